"""Run a grid plan cell by cell through an injected renderer, with progress, interruption and timing.

The renderer is the host's ``render_cell(CellRequest) -> (image(s), infotext(s))``; this module
never knows whether WebUI, the tiny test host or a benchmark fake is behind it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from PIL import Image

from . import messages
from .plan import GridPlan, PlannedCell
from .requests import CellRequest, format_infotext

RenderOutput = tuple[Union[Image.Image, Sequence[Image.Image]], Union[str, Sequence[str], None]]
RenderCell = Callable[[CellRequest], RenderOutput]
# progress(done, total, label): before each cell with the cell about to render, and once at the end.
ProgressCallback = Callable[[int, int, str], None]
# A threading.Event, the host's StopFlag (anything with is_set()), or a callable returning True to stop.
StopSignal = Union[threading.Event, Callable[[], bool], Any, None]

DONE = "done"
MISSING = "missing"
FAILED = "failed"


@dataclass
class CellResult:
    """What became of one planned cell."""

    cell: PlannedCell
    status: str = MISSING
    images: list[Image.Image] = field(default_factory=list)
    infotexts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def infotext(self) -> str:
        return self.infotexts[0] if self.infotexts else format_infotext(self.cell.request)


@dataclass
class RenderResult:
    """Every cell's result in plan order, plus whether the run stopped early and its timings."""

    plan: GridPlan
    cells: list[CellResult]
    interrupted: bool = False
    error: str = ""
    wall_seconds: float = 0.0

    @property
    def done_count(self) -> int:
        return sum(1 for c in self.cells if c.status == DONE)

    @property
    def missing(self) -> list[CellResult]:
        return [c for c in self.cells if c.status != DONE]

    @property
    def generation_seconds(self) -> float:
        """Time spent inside the renderer, summed over cells (the benchmark's baseline)."""
        return sum(c.seconds for c in self.cells)

    @property
    def complete(self) -> bool:
        return self.done_count == len(self.cells)

    def message(self) -> str:
        """A sentence for the user when the grid is not complete (empty when it is)."""
        if self.error:
            return self.error
        if self.interrupted:
            return messages.RENDER_INTERRUPTED.format(done=self.done_count, total=len(self.cells))
        return ""


def stop_checker(stop: StopSignal) -> Callable[[], bool]:
    """A no-argument check from an Event, anything with ``is_set()`` (the host's StopFlag) or a callable."""
    if stop is None:
        return lambda: False
    if isinstance(stop, threading.Event) or hasattr(stop, "is_set"):
        return stop.is_set
    return stop


def _as_lists(output: RenderOutput, cell: PlannedCell) -> tuple[list[Image.Image], list[str]]:
    """Accept one image or a list, one infotext or a list (or None), and pair them up."""
    if not isinstance(output, tuple) or len(output) != 2:
        raise TypeError(messages.RENDER_BAD_RESULT.format(label=cell.label))
    images_out, info_out = output
    images = [images_out] if isinstance(images_out, Image.Image) else list(images_out or [])
    if not images or not all(isinstance(im, Image.Image) for im in images):
        raise TypeError(messages.RENDER_BAD_RESULT.format(label=cell.label))
    # The grid tiles exactly the requested number of images per cell; extra ones would spill
    # into the neighbouring cells.
    images = images[: cell.request.image_count]
    if info_out is None:
        infotexts = [format_infotext(cell.request)] * len(images)
    elif isinstance(info_out, str):
        infotexts = [info_out] * len(images)
    else:
        infotexts = [str(t) for t in info_out] or [format_infotext(cell.request)]
        infotexts += [infotexts[-1]] * (len(images) - len(infotexts))
    return images, infotexts[: len(images)]


def reuse_baseline(render_cell: RenderCell) -> RenderCell:
    """``render_cell`` that renders each distinct no-LoRA request once: every row's baseline cell is the
    same request (prompt, seed, settings), so the base model is sampled once per prompt, not per row."""
    done: dict[str, RenderOutput] = {}

    def render(request: CellRequest) -> RenderOutput:
        if request.lora is not None:
            return render_cell(request)
        key = json.dumps(request.to_dict(), sort_keys=True, default=str)
        if key not in done:
            done[key] = render_cell(request)
        return done[key]

    return render


def render_plan(
    plan: GridPlan,
    render_cell: RenderCell,
    *,
    progress: ProgressCallback | None = None,
    stop: StopSignal = None,
    continue_on_error: bool = False,
    on_cell: Callable[[CellResult], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> RenderResult:
    """Render every cell in plan order; stop between cells when ``stop`` says so.

    A cell during which ``stop`` was set is dropped (marked missing), since an interrupted
    sampler returns a half-finished image.

    Finished cells are always kept. A renderer exception marks that cell ``failed`` and, unless
    ``continue_on_error``, ends the run (an out-of-memory error would only repeat), leaving the
    rest ``missing``. ``on_cell`` sees each result as it lands (for a live gallery).
    """
    should_stop = stop_checker(stop)
    render_cell = reuse_baseline(render_cell)
    results = [CellResult(cell=c) for c in plan.cells]
    outcome = RenderResult(plan=plan, cells=results)
    total = len(results)
    started = clock()
    for result in results:
        if should_stop():
            outcome.interrupted = True
            break
        cell = result.cell
        if progress is not None:
            progress(cell.index, total, cell.label)
        t0 = clock()
        try:
            output = render_cell(cell.request)
            result.seconds = clock() - t0
            if should_stop():
                # Stopped while this cell rendered: WebUI then returns a half-denoised image, and
                # a labelled grid must not pass that off as the checkpoint's result.
                outcome.interrupted = True
                break
            result.images, result.infotexts = _as_lists(output, cell)
            result.status = DONE
        except Exception as exc:  # the renderer is foreign code; any failure is reported, not raised
            result.seconds = clock() - t0
            result.status = FAILED
            result.error = messages.RENDER_CELL_FAILED.format(label=cell.label, error=exc)
            if on_cell is not None:
                on_cell(result)
            if not continue_on_error:
                outcome.error = result.error
                break
            continue
        if on_cell is not None:
            on_cell(result)
    if progress is not None:
        progress(outcome.done_count, total, "")
    outcome.wall_seconds = clock() - started
    return outcome
