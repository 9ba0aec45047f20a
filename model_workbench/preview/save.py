"""Saving a grid: PNG with WebUI's ``parameters`` infotext chunk, and the JSON manifest beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

from .grid_image import GridImage
from .manifest import build_manifest, write_json_atomic
from .render import DONE

# The PNG text chunk WebUI reads in PNG Info and "send to txt2img" (images.save_image's default).
PNGINFO_KEY = "parameters"
# Our own chunk naming the manifest, so a grid PNG found on its own leads back to its cells.
MANIFEST_KEY = "model-workbench-manifest"
# Pillow's default zlib level. On photo-like grids levels 1 and 6 take about the same time in
# Pillow (its adaptive row filters dominate) and 6 gives ~8% smaller files.
DEFAULT_COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class SavedGrid:
    png_path: Path
    manifest_path: Path
    manifest: dict
    image: Image.Image | None = None  # the grid in memory, for showing it without reading the file back


def grid_infotext(grid: GridImage) -> str:
    """The first rendered cell's infotext, as xyz_grid saves its grid; the first planned request if none rendered."""
    for placed in grid.placed:
        if placed.result.status == DONE:
            return placed.result.infotext
    return grid.placed[0].result.infotext if grid.placed else ""


def safe_basename(name: str) -> str:
    """A file stem without path separators or characters Windows refuses."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return cleaned or "grid"


def unique_paths(directory: str | Path, basename: str) -> tuple[Path, Path]:
    """``<stem>.png`` and ``<stem>.json`` in ``directory`` that exist in neither form yet (-1, -2, ...)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stem = candidate = safe_basename(basename)
    n = 0
    while (folder / f"{candidate}.png").exists() or (folder / f"{candidate}.json").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return folder / f"{candidate}.png", folder / f"{candidate}.json"


def save_grid(grid: GridImage, directory: str | Path, basename: str = "grid", *,
              compress_level: int = DEFAULT_COMPRESS_LEVEL) -> SavedGrid:
    """Write ``<basename>.png`` (with infotext) and ``<basename>.json`` (the manifest) into ``directory``."""
    png_path, manifest_path = unique_paths(directory, basename)

    info = PngImagePlugin.PngInfo()
    # add_text, as WebUI's save_image does: tEXt for Latin-1, Pillow switches to UTF-8 iTXt otherwise.
    info.add_text(PNGINFO_KEY, grid_infotext(grid))
    info.add_text(MANIFEST_KEY, manifest_path.name)
    manifest = build_manifest(grid, png_path.name)
    write_json_atomic(manifest_path, manifest)
    tmp = png_path.with_name(f".{png_path.name}.tmp")
    grid.image.save(tmp, format="PNG", pnginfo=info, compress_level=compress_level)
    tmp.replace(png_path)
    return SavedGrid(png_path=png_path, manifest_path=manifest_path, manifest=manifest, image=grid.image)
