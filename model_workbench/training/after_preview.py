"""Preview after training: the grid a version renders by itself when its training ends.

The settings are the Preview grid tab's "Preview all" fields (weights, prompts, seed, steps, size,
sampler, CFG scale, negative prompt) plus an on/off switch and the baseline column. They are kept in
the version's ``config.json`` under :data:`KEY`, a dict beside kohya's argument names (which
``session.build_config`` leaves to this module), so every training of that version previews when it
ends: from the Train tab, over HTTP (``POST /train`` with ``config.preview_after_training``) or from a
queue. The grid is rendered by :class:`~.previews.PreviewService` (the GPU lock, progress, stop),
over the run's checkpoints, with the base model alone in the first column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..api_body import GENERATION_FIELDS, Field, Schema, validate_body
from ..host import Host, StopFlag
from ..preview.plan import GenerationSettings
from ..preview.requests import format_weight, parse_weight_list
from .previews import PreviewService, default_prompt

KEY = "preview_after_training"

# The states of ``status["preview"]``.
RUNNING, DONE, STOPPED, FAILED, SKIPPED = "running", "done", "stopped", "failed", "skipped"

MSG_UNKNOWN_SETTINGS = "Unknown preview-after-training settings: {keys}. Known ones: {known}."
MSG_RENDERING = "Training ended; rendering the preview grid ({done} of {total} cells)…"
MSG_DONE = "Preview grid saved: {name} ({done} of {total} cells)."
MSG_STOPPED = "The preview grid was stopped; {done} of {total} cells are kept in {name}."
MSG_FAILED = "The preview grid could not be rendered: {error}"
MSG_NO_CHECKPOINTS = "No preview grid: the training saved no checkpoint."

# The body of ``config.preview_after_training``: the same fields and defaults as the Preview grid tab.
SCHEMA: Schema = {
    "enabled": Field("bool", default=False),
    "weights": Field("text_or_numbers", default="0.6, 0.8, 1.0"),
    "prompts": Field("text_or_texts", default=""),
    **GENERATION_FIELDS,
    "seed": Field("int", default=1234),
    "width": Field("int", minimum=0, default=0),  # 0: the training resolution
    "height": Field("int", minimum=0, default=0),
    "baseline": Field("bool", default=True),
}


@dataclass(frozen=True)
class AfterTrainingPreview:
    """Validated settings (``weights`` as the text a user types; ``prompts`` one per item)."""

    enabled: bool = False
    weights: str = "0.6, 0.8, 1.0"
    prompts: list[str] = field(default_factory=list)
    negative_prompt: str = ""
    seed: int = 1234
    steps: int = 20
    sampler_name: str = "Euler a"
    cfg_scale: float = 7.0
    width: int = 0
    height: int = 0
    baseline: bool = True

    def generation_settings(self, training_size: tuple[int, int]) -> GenerationSettings:
        """The txt2img fields of every cell; a size of 0 is the training resolution."""
        return GenerationSettings.from_values(asdict(self), self.width or training_size[0],
                                              self.height or training_size[1])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _prompt_list(value: str | Sequence[str]) -> list[str]:
    items = value.splitlines() if isinstance(value, str) else list(value)
    return [p.strip() for p in items if p.strip()]


def parse_settings(value: Any) -> AfterTrainingPreview:
    """``config.preview_after_training`` checked and cleaned; ``ValueError`` naming the field otherwise."""
    where = f"config.{KEY}"
    if isinstance(value, dict):
        unknown = sorted(k for k in value if k not in SCHEMA)
        if unknown:
            raise ValueError(MSG_UNKNOWN_SETTINGS.format(keys=", ".join(unknown), known=", ".join(SCHEMA)))
    values = validate_body(value, SCHEMA, where=where)  # BodyError (a ValueError) for a non-object too
    weights = values["weights"]
    if not isinstance(weights, str):
        weights = ", ".join(format_weight(w) for w in weights)
    parse_weight_list(weights)  # refused now, not when the training has ended
    settings = AfterTrainingPreview(**{**values, "weights": weights, "prompts": _prompt_list(values["prompts"])})
    # A size of 0 stands for the training resolution; any other must suit the sampler.
    settings.generation_settings((64, 64)).validate()
    return settings


def settings_for(stored: dict[str, Any], overrides: dict[str, Any] | None) -> AfterTrainingPreview | None:
    """The settings a training uses: those it was started with, else the version's stored ones, else None."""
    overrides = overrides or {}
    if KEY in overrides:
        return parse_settings(overrides[KEY])
    if KEY in stored:
        return parse_settings(stored[KEY])
    return None


def _prompts(settings: AfterTrainingPreview, sample_prompts: Sequence[str], root: Path, project: str) -> list[str]:
    """The prompts typed for the grid, else the training's sample prompts, else the trigger words."""
    return list(settings.prompts) or [p for p in sample_prompts if p.strip()] or [default_prompt(root, project)]


def _state(state: str, message: str, done: int = 0, total: int = 0, grid: str = "", manifest: str = "") -> dict[str, Any]:
    """What ``status["preview"]`` holds: the state, a sentence, the progress and, once saved, the files."""
    return {"state": state, "message": message, "done": done, "cells": total, "grid": grid, "manifest": manifest}


def render_after_training(host: Host, root: Path, project: str, version: str, settings: AfterTrainingPreview,
                          checkpoints: Sequence[str | Path], training_size: tuple[int, int],
                          sample_prompts: Sequence[str], update: Callable[[dict[str, Any]], None],
                          stop: StopFlag) -> dict[str, Any]:
    """Render the grid of the run's ``checkpoints`` (per-step files left out); ``update`` sees each state.

    Never raises: a training that ended well stays ended well, and the preview's own end is a sentence.
    """
    service = PreviewService(host, root)
    known = {str(info.path.resolve()) for info in service.checkpoints(project, version)}
    chosen = [str(p) for p in checkpoints if str(Path(p).resolve()) in known]
    if not chosen:
        final = _state(SKIPPED, MSG_NO_CHECKPOINTS)
        update(final)
        return final
    update(_state(RUNNING, MSG_RENDERING.format(done=0, total="?")))

    def progress(done: int, total: int, _label: str) -> None:
        update(_state(RUNNING, MSG_RENDERING.format(done=done, total=total), done, total))

    try:
        outcome = service.preview_all(project, version, settings.weights,
                                      _prompts(settings, sample_prompts, root, project),
                                      settings.generation_settings(training_size), seed=settings.seed,
                                      checkpoints=chosen, progress=progress, stop=stop, baseline=settings.baseline)
    except Exception as exc:  # a preview must never turn a finished training into a failed one
        final = _state(FAILED, MSG_FAILED.format(error=exc))
        update(final)
        return final
    saved, cells = outcome.saved, outcome.saved.manifest["cells"]
    done = sum(1 for c in cells if c["status"] == "done")
    name = saved.png_path.name
    if saved.manifest.get("complete"):
        final = _state(DONE, MSG_DONE.format(name=name, done=done, total=len(cells)), done, len(cells))
    elif outcome.message and not saved.manifest.get("interrupted"):
        final = _state(FAILED, MSG_FAILED.format(error=outcome.message), done, len(cells))
    else:
        final = _state(STOPPED, MSG_STOPPED.format(name=name, done=done, total=len(cells)), done, len(cells))
    final.update(grid=str(saved.png_path), manifest=str(saved.manifest_path))
    update(final)
    return final
