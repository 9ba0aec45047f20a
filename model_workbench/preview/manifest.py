"""The JSON manifest saved beside a grid PNG: one entry per cell saying what it is and where it is.

A grid image alone cannot say which file, weight, prompt and seed made a cell; the manifest can,
and it lets the UI map a click on the image back to the cell (``box`` is in image pixels).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from model_workbench.jsonfile import write_json_atomic as _write_json_atomic

from .grid_image import GridImage, PlacedCell
from .render import DONE, RenderResult

MANIFEST_FORMAT = "model-workbench-grid"
MANIFEST_VERSION = 1


def _cell_entry(placed: PlacedCell) -> dict[str, Any]:
    result = placed.result
    cell = result.cell
    entry: dict[str, Any] = {
        "index": cell.index,
        "x": cell.x,
        "y": cell.y,
        "z": cell.z,
        "x_label": cell.x_label,
        "y_label": cell.y_label,
        "z_label": cell.z_label,
        "label": cell.label,
        "checkpoint": {
            "label": cell.checkpoint.label,
            "path": cell.checkpoint.path,
            "lora_name": cell.checkpoint.name,
            "epoch": cell.checkpoint.epoch,
            "kind": cell.checkpoint.kind,
            "step": cell.checkpoint.step,
        },
        "weight": cell.weight,
        "baseline": cell.baseline,  # the no-LoRA column: the row's checkpoint is not applied
        "prompt": cell.prompt,
        "seed": cell.request.seed,
        "seeds": cell.request.image_seeds(),
        "request": cell.request.to_dict(),
        "status": result.status,
        "infotext": result.infotext,
        "infotexts": list(result.infotexts),
        "error": result.error,
        "seconds": round(result.seconds, 4),
        "box": list(placed.box),
        "image_boxes": [list(b) for b in placed.image_boxes],
    }
    if placed.group:
        entry["version"] = placed.group
    return entry


def _run_summary(result: RenderResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "title": plan.title,
        "seed": plan.seed,
        "axes": {
            "x": {"title": plan.x_title, "labels": list(plan.x_labels)},
            "y": {"title": plan.y_title, "labels": list(plan.y_labels)},
            "z": {"title": plan.z_title, "labels": list(plan.z_labels)},
        },
        "complete": result.complete,
        "interrupted": result.interrupted,
        "message": result.message(),
        "wall_seconds": round(result.wall_seconds, 4),
        "generation_seconds": round(result.generation_seconds, 4),
    }


def build_manifest(grid: GridImage, image_name: str = "") -> dict[str, Any]:
    """The manifest of a grid or of a side-by-side comparison (``versions`` then names each block)."""
    cells = [_cell_entry(p) for p in grid.placed]
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "image": image_name,
        "width": grid.image.width,
        "height": grid.image.height,
        "complete": all(c["status"] == DONE for c in cells),
        # Plain indices for a grid; {version, index} pairs for a comparison of several grids.
        "missing": [{"version": c["version"], "index": c["index"]} if "version" in c else c["index"]
                    for c in cells if c["status"] != DONE],
        "cells": cells,
    }
    if grid.groups:
        manifest["versions"] = [
            {"name": name, **_run_summary(result)} for name, result in zip(grid.groups, grid.results, strict=True)
        ]
    elif grid.results:
        manifest.update(_run_summary(grid.results[0]))
    return manifest


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write a manifest (indented, for people reading it) so a reader never sees half of it."""
    return _write_json_atomic(path, data, indent=2)


def read_manifest(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def cell_at(manifest: dict[str, Any], x: float, y: float) -> dict[str, Any] | None:
    """The manifest entry of the cell under pixel (x, y) of the grid image, for click-to-enlarge."""
    for entry in manifest.get("cells", []):
        left, top, right, bottom = entry["box"]
        if left <= x < right and top <= y < bottom:
            return entry
    return None
