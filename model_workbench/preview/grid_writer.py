"""Build and encode the grid while it renders, so the PNG is ready when the last cell is.

Pass ``writer.add`` as ``render_plan(on_cell=...)`` and call ``writer.finish(result)`` after:

    writer = GridWriter(plan, project.grids, "epochs-x-weights")
    result = render_plan(plan, host.render_cell, on_cell=writer.add, stop=stop_event)
    saved = writer.finish(result)

Labels are drawn on a background thread during the first cell; each cell is pasted as it
lands; each finished row of cells is compressed on a thread pool (``png_writer``). The row that
finishes last is compressed per cell column, so after the last cell only its own share is left.
If a cell comes back at a size other than the plan's (a renderer that rounds sizes, say), the
writer falls back to ``build_grid`` + ``save_grid`` at the end, with the same result on disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from . import png_writer
from .grid_image import GridImage, GridStyle, PlacedCell, build_grid, compute_layout, draw_frame, paste_cell
from .manifest import build_manifest, write_json_atomic
from .plan import GridPlan
from .render import DONE, CellResult, ProgressCallback, RenderCell, RenderResult, StopSignal, render_plan
from .save import (
    MANIFEST_KEY,
    PNGINFO_KEY,
    SavedGrid,
    grid_infotext,
    save_grid,
    unique_paths,
)

# Strips taller than this are split so the last one can be compressed by several threads at once.
_MAX_STRIP_ROWS = 96
# zlib level 1: with Z_RLE the level changes little in size, and the last cell's share of the
# encoding is the one piece the user waits for.
STRIP_COMPRESS_LEVEL = 1


class GridWriter:
    """Incremental grid assembly and PNG encoding for one plan."""

    def __init__(self, plan: GridPlan, directory: str | Path, basename: str = "grid", *,
                 style: GridStyle | None = None, compress_level: int = STRIP_COMPRESS_LEVEL,
                 workers: int | None = None) -> None:
        self.plan = plan
        self.directory = Path(directory)
        self.basename = basename
        self.style = style or GridStyle()
        self.compress_level = compress_level
        self._capacity = max(c.request.image_count for c in plan.cells)
        # One thread owns the canvas (Pillow images are not safe to share); a pool compresses strips.
        self._canvas_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grid-canvas")
        self._workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="grid-deflate")
        self._placed: dict[int, PlacedCell] = {}
        self._waiting: list[set[int]] = []
        self._strips: dict[int, list[Future]] = {}
        self._lock = threading.Lock()
        self.fallback = False  # True once a cell did not fit the planned layout
        self._closed = False
        # Layout (fonts, label wrapping) and the labelled frame are made on the canvas thread,
        # while the first cell renders; every later canvas task queues behind them. Submitted last:
        # _setup fills fields of its own, which an assignment here after it started would wipe.
        self._canvas_future: Future = self._canvas_thread.submit(self._setup)

    def _setup(self) -> Image.Image:
        request = self.plan.cells[0].request
        self.layout = compute_layout(self.plan, (request.width, request.height), self._capacity, self.style)
        self._waiting = [set(members) for _, _, members in self.layout.bands]
        # The row of cells that finishes last (the one holding the last planned cell) is encoded
        # in two column segments: everything left of the last column as soon as those cells are
        # in (while the last cell renders), and the last column once it lands. Only that last
        # share is left to encode at the end.
        last = self.plan.cells[-1].index
        self._tail_band = next(i for i, (_, _, members) in enumerate(self.layout.bands) if last in members)
        members = self.layout.bands[self._tail_band][2]
        rights = sorted({self.layout.cell_boxes[i][2] for i in members})
        edges = [0, *rights[-2:-1], self.layout.width]
        self._segments = list(zip(edges[:-1], edges[1:], strict=True))
        self._segment_waiting = [
            {i for i in members if left <= self.layout.cell_boxes[i][0] < right} for left, right in self._segments
        ]
        self._segment_futures: dict[int, list[Future]] = {}
        return draw_frame(self.layout, self.style)

    # --- called from the render loop ----------------------------------------------------

    def add(self, result: CellResult) -> None:
        """Hand over a finished (or failed) cell; returns at once, the work happens on the canvas thread."""
        if not self._closed:
            self._canvas_thread.submit(self._place, result)

    # --- canvas thread ------------------------------------------------------------------

    def _fits(self, result: CellResult) -> bool:
        """Whether a cell matches the planned layout (size and image count) so it can be pasted now."""
        if result.status != DONE:
            return True
        size = (self.layout.img_w, self.layout.img_h)
        return len(result.images) <= self._capacity and all(im.size == size for im in result.images)

    def _place(self, result: CellResult) -> None:
        if self.fallback:
            return
        if not self._fits(result):
            self.fallback = True
            return
        canvas = self._canvas_future.result()
        index = result.cell.index
        self._placed[index] = paste_cell(canvas, self.layout, result, self.style)
        for band, waiting in enumerate(self._waiting):
            if index in waiting:
                waiting.discard(index)
                if not waiting and band != self._tail_band:
                    self._compress_band(canvas, band)
        for segment, waiting in enumerate(self._segment_waiting):
            if index in waiting:
                waiting.discard(index)
                if not waiting:
                    self._compress_segment(canvas, segment)

    def _compress_segment(self, canvas: Image.Image, segment: int) -> None:
        top, bottom, _ = self.layout.bands[self._tail_band]
        left, right = self._segments[segment]
        pixels = png_writer.strip_pixels(canvas, top, bottom, left, right)
        # Split into row chunks so the last cell's share is compressed by every pool thread at once.
        step = max(16, -(-len(pixels) // self._workers))
        futures = [
            self._pool.submit(png_writer.compress_row_pieces, pixels[start:start + step], segment == 0,
                              self.compress_level, pixels[start - 1] if start else None)
            for start in range(0, len(pixels), step)
        ]
        with self._lock:
            self._segment_futures[segment] = futures

    def _compress_band(self, canvas: Image.Image, band: int) -> None:
        top, bottom, _ = self.layout.bands[band]
        futures = []
        for start in range(top, bottom, _MAX_STRIP_ROWS):
            pixels = png_writer.strip_pixels(canvas, start, min(bottom, start + _MAX_STRIP_ROWS))
            futures.append(self._pool.submit(png_writer.compress_strip, pixels, self.compress_level))
        with self._lock:
            self._strips[band] = futures

    # --- the end ------------------------------------------------------------------------

    def finish(self, result: RenderResult) -> SavedGrid:
        """Blank the cells that never came, finish the strips, write the PNG and the manifest."""
        self._closed = True
        try:
            self._canvas_thread.submit(lambda: None).result()  # wait for every queued paste
            if self._canvas_future.exception() is not None:
                self.fallback = True  # the frame could not be drawn ahead: draw it all the plain way
            try:
                for cell_result in result.cells:
                    if cell_result.cell.index not in self._placed and not self.fallback:
                        # Missing cells become marked blanks; a DONE cell nobody passed to add() is pasted now.
                        self._place(cell_result)
            except Exception:  # the fast path is an optimisation: any surprise there means the plain way
                self.fallback = True
            strips = self._collect_strips(result)
            if strips is None:
                return save_grid(build_grid(result, self.style), self.directory, self.basename)
            canvas = self._canvas_future.result()
            grid = GridImage(image=canvas, placed=[self._placed[c.cell.index] for c in result.cells],
                             results=[result])
            png_path, manifest_path = unique_paths(self.directory, self.basename)
            texts = [(PNGINFO_KEY, grid_infotext(grid)), (MANIFEST_KEY, manifest_path.name)]
            data = png_writer.assemble(canvas.width, canvas.height, strips, texts)
            manifest = build_manifest(grid, png_path.name)
            write_json_atomic(manifest_path, manifest)
            tmp = png_path.with_name(f".{png_path.name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(png_path)
            return SavedGrid(png_path=png_path, manifest_path=manifest_path, manifest=manifest, image=canvas)
        finally:
            self._canvas_thread.shutdown(wait=True)
            self._pool.shutdown(wait=True)

    def close(self) -> None:
        """Give up without writing (the render itself failed); safe to call more than once."""
        self._closed = True
        self._canvas_thread.shutdown(wait=True)
        self._pool.shutdown(wait=True)

    def _collect_strips(self, result: RenderResult) -> list[tuple[bytes, int, int]] | None:
        """Every strip top to bottom, or None when the incremental path cannot be trusted (then fall back)."""
        if self.fallback or any(c.cell.index not in self._placed for c in result.cells):
            return None
        with self._lock:
            bands = [b for b in range(len(self.layout.bands)) if b != self._tail_band]
            if any(b not in self._strips for b in bands) or len(self._segment_futures) != len(self._segments):
                return None
            strips_by_band = {b: list(self._strips[b]) for b in bands}
            segment_futures = [self._segment_futures[s] for s in range(len(self._segments))]
        try:
            tail = png_writer.join_row_pieces([[piece for f in futures for piece in f.result()]
                                               for futures in segment_futures])
            strips = []
            for band in range(len(self.layout.bands)):
                strips += [tail] if band == self._tail_band else [f.result() for f in strips_by_band[band]]
            return strips
        except Exception:  # a failed strip costs speed, never the grid: redo it the plain way
            return None


def render_and_save(plan: GridPlan, render_cell: RenderCell, directory: str | Path, basename: str = "grid", *,
                    progress: ProgressCallback | None = None, stop: StopSignal = None,
                    on_cell: Callable[[CellResult], None] | None = None, continue_on_error: bool = False,
                    style: GridStyle | None = None) -> tuple[RenderResult, SavedGrid]:
    """Render a plan and save its labelled grid + manifest, encoding while it renders.

    The one call the UI needs for **Preview** and **Preview all**: whatever happens (finished,
    interrupted, a failed cell), the grid of what was rendered is saved and returned.
    """
    writer = GridWriter(plan, directory, basename, style=style)

    def handle(cell_result: CellResult) -> None:
        writer.add(cell_result)
        if on_cell is not None:
            on_cell(cell_result)

    try:
        result = render_plan(plan, render_cell, progress=progress, stop=stop, on_cell=handle,
                             continue_on_error=continue_on_error)
    except BaseException:
        writer.close()  # a callback raised: release the threads, write nothing half-made
        raise
    return result, writer.finish(result)
