"""Previews of trained checkpoints through the host: one checkpoint, all epochs (same seed), versions side by side.

Each call holds the host's GPU lock for the whole grid, renders every cell through
``host.generate`` (WebUI's own txt2img and Lora loader in WebUI), loads each file under a name unique
to its content (``unique_lora_name``), and saves a labelled PNG with infotext plus a JSON manifest in
the project's ``grids/``. A stop (the flag or the host's Interrupt) keeps the cells that finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..host import Host, ProgressUpdate, StopFlag
from ..preview.compare import render_comparison
from ..preview.grid_writer import render_and_save
from ..preview.host_bridge import host_cell_renderer
from ..preview.manifest import read_manifest
from ..preview.plan import (
    CheckpointRef,
    GenerationSettings,
    comparison_plans,
    epoch_checkpoint,
    grid_plan,
    single_checkpoint_preview,
    unique_lora_name,
)
from ..preview.render import RenderResult
from ..preview.requests import parse_weight_list
from ..preview.save import SavedGrid
from . import projects
from .base_checkpoint import on_base_model, saved_base_model

PREVIEW_JOB = "model-workbench-preview"
MSG_TRAINING_RUNS = "A training is running; previews can start when it has finished or been stopped."
MSG_NOT_IN_VERSION = "The checkpoint {path} does not belong to {project} / {version}."
MSG_NO_CHECKPOINTS = "{project} / {version} has no checkpoints yet; train it first."
MSG_BASES_DIFFER = ("The versions were trained on different base models ({names}); they are all rendered on the "
                    "loaded checkpoint.")

Progress = Callable[[int, int, str], None]


@dataclass
class PreviewOutcome:
    """What one preview call produced (``results`` has one entry per version for a comparison)."""

    saved: SavedGrid
    results: list[RenderResult]
    notes: list[str] = field(default_factory=list)  # e.g. rendered on another checkpoint than the version's

    @property
    def message(self) -> str:
        return " ".join([*self.notes, *(r.message() for r in self.results if r.message())]).strip()

    def cells(self) -> list[dict[str, Any]]:
        """The contract's per-cell summary: checkpoint, weight, prompt, status, infotext."""
        return [{"checkpoint": c["checkpoint"]["path"], "weight": c["weight"], "baseline": bool(c.get("baseline")),
                 "prompt": c["prompt"], "status": c["status"], "infotext": c["infotext"],
                 **({"version": c["version"]} if "version" in c else {})}
                for c in self.saved.manifest.get("cells", [])]

    def as_dict(self) -> dict[str, Any]:
        return {"grid": str(self.saved.png_path), "manifest": str(self.saved.manifest_path), "cells": self.cells(),
                "complete": bool(self.saved.manifest.get("complete")), "message": self.message}


def _weights(weights: str | Sequence[float]) -> list[float]:
    return parse_weight_list(weights) if isinstance(weights, str) else [float(w) for w in weights]


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


class PreviewService:
    """Renders preview grids of a project's checkpoints on a host."""

    def __init__(self, host: Host, root: str | Path | None = None, is_training: Callable[[], bool] | None = None) -> None:
        self.host = host
        self._root = Path(root) if root is not None else None
        self._is_training = is_training or (lambda: False)

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else self.host.data_dir()

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoints(self, project: str, version: str) -> list[projects.CheckpointInfo]:
        """The version's checkpoints (per-epoch and final files; per-step files left out)."""
        return [c for c in projects.list_checkpoints(self.root, project, version) if not c.step_file]

    def refs(self, project: str, version: str, paths: Sequence[str] | None = None) -> list[CheckpointRef]:
        """Checkpoint refs for the grid, each under a name unique to the file's content."""
        infos = self.checkpoints(project, version)
        if not infos:
            raise ValueError(MSG_NO_CHECKPOINTS.format(project=project, version=version))
        by_path = {str(i.path.resolve()): i for i in infos}
        chosen = infos
        if paths:
            chosen = []
            for p in paths:
                info = by_path.get(str(Path(p).resolve()))
                if info is None:
                    raise ValueError(MSG_NOT_IN_VERSION.format(path=p, project=project, version=version))
                chosen.append(info)
        return [epoch_checkpoint(i.path, i.epoch, lora_name=unique_lora_name(i.path)) for i in chosen]

    # -- rendering ------------------------------------------------------------------------------
    def _guard(self) -> None:
        if self._is_training():
            raise RuntimeError(MSG_TRAINING_RUNS)

    def _progress(self, progress: Progress | None) -> Progress:
        def report(done: int, total: int, label: str) -> None:
            self.host.report_progress(ProgressUpdate(done, total, label))
            if progress is not None:
                progress(done, total, label)
        return report

    def _stop(self, stop: StopFlag | None) -> Callable[[], bool]:
        return lambda: bool(stop is not None and stop.is_set()) or bool(self.host.interrupted())

    @contextmanager
    def _locked_on_base(self, project: str, versions: Sequence[str]) -> Iterator[list[str]]:
        """The GPU lock with the versions' base model loaded for the grid (and the loaded one put back
        after); yields the notes to show (rendered on another checkpoint, and why)."""
        configs = [projects.read_version_config(self.root, project, v) for v in versions]
        bases = [saved_base_model(c) for c in configs]
        differ = any(b is not None and not b.same_as(bases[0]) for b in bases[1:]) or (
            bases[0] is not None and any(b is None for b in bases))
        with self.host.gpu_lock(PREVIEW_JOB):
            if differ:
                names = ", ".join(sorted({b.title for b in bases if b is not None}))
                yield [MSG_BASES_DIFFER.format(names=names)]
                return
            with on_base_model(self.host, configs[0], versions[0]) as notes:
                yield notes

    def preview_checkpoint(self, project: str, version: str, checkpoint: str, weights: str | Sequence[float],
                           prompt: str, settings: GenerationSettings, seed: int = -1, batch_side: int = 1,
                           progress: Progress | None = None, stop: StopFlag | None = None) -> PreviewOutcome:
        """The Preview button beside one checkpoint: one row, a column per weight (n×n images each)."""
        self._guard()
        paths = projects.project_paths(self.root, project)
        ref = self.refs(project, version, [checkpoint])[0]
        plan = single_checkpoint_preview(ref, _weights(weights), prompt, settings, seed=seed, batch_side=batch_side)
        with self._locked_on_base(project, [version]) as notes:
            result, saved = render_and_save(plan, host_cell_renderer(self.host), paths.grids,
                                            f"{Path(checkpoint).stem}-preview-{_stamp()}",
                                            progress=self._progress(progress), stop=self._stop(stop))
        return PreviewOutcome(saved, [result], notes)

    def preview_all(self, project: str, version: str, weights: str | Sequence[float], prompts: str | Sequence[str],
                    settings: GenerationSettings, seed: int = -1, checkpoints: Sequence[str] | None = None,
                    progress: Progress | None = None, stop: StopFlag | None = None,
                    baseline: bool = False) -> PreviewOutcome:
        """Preview all (same seed): epochs × weights (× prompts), one labelled grid; with ``baseline``
        the first column is the base model alone (no LoRA)."""
        self._guard()
        paths = projects.project_paths(self.root, project)
        refs = self.refs(project, version, checkpoints)
        plan = grid_plan(refs, _weights(weights), prompts, settings, seed=seed,
                         title=projects.output_name(paths.name, version), baseline=baseline)
        with self._locked_on_base(project, [version]) as notes:
            result, saved = render_and_save(plan, host_cell_renderer(self.host), paths.grids,
                                            f"{projects.output_name(paths.name, version)}-grid-{_stamp()}",
                                            progress=self._progress(progress), stop=self._stop(stop))
        return PreviewOutcome(saved, [result], notes)

    def compare(self, project: str, versions: Sequence[str], weights: str | Sequence[float], prompt: str,
                settings: GenerationSettings, seed: int = -1, progress: Progress | None = None,
                stop: StopFlag | None = None) -> PreviewOutcome:
        """The last checkpoint of each version with the same prompt, seed and weights, side by side."""
        self._guard()
        paths = projects.project_paths(self.root, project)
        chosen = [(v, self.refs(project, v)[-1]) for v in versions]
        plans = comparison_plans(chosen, _weights(weights), prompt, settings, seed=seed)
        name = "compare-" + "-".join(projects.validate_name(v, "version") for v in versions)
        with self._locked_on_base(project, versions) as notes:
            results, saved = render_comparison(plans, host_cell_renderer(self.host), paths.grids,
                                               f"{name[:80]}-{_stamp()}", progress=self._progress(progress),
                                               stop=self._stop(stop))
        return PreviewOutcome(saved, results, notes)


def default_prompt(root: str | Path, project: str) -> str:
    """With no prompt typed, the concept names (the trigger words) make a sensible one."""
    try:
        return ", ".join(c.name for c in projects.list_concepts(root, project)) or project
    except projects.ProjectError:
        return project


# -- reading grids back -----------------------------------------------------------------------------

def cell_image(manifest_path: str | Path, entry: dict[str, Any]) -> Image.Image | None:
    """The pixels of one manifest cell, cut from its grid PNG (for click-to-enlarge and publish previews)."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    png = manifest_path.with_name(manifest.get("image") or manifest_path.with_suffix(".png").name)
    if not png.is_file() or entry.get("status") != "done":
        return None
    boxes = entry.get("image_boxes") or [entry["box"]]
    with Image.open(png) as grid:
        return grid.crop(tuple(boxes[0])).convert("RGB")


def latest_cell_for(grids_dir: str | Path, checkpoint: str | Path, weight: float) -> tuple[Path, dict[str, Any]] | None:
    """The newest finished grid cell that shows ``checkpoint``, at the weight nearest to ``weight``."""
    target = str(Path(checkpoint).resolve())
    manifests = sorted(Path(grids_dir).glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in manifests:
        try:
            manifest = read_manifest(path)
        except (OSError, ValueError):
            continue
        cells = [c for c in manifest.get("cells", []) if c.get("status") == "done" and not c.get("baseline")
                 and str(Path(c.get("checkpoint", {}).get("path", "")).resolve()) == target]
        if cells:
            return path, min(cells, key=lambda c: abs(float(c["weight"]) - weight))
    return None

