"""The base model of a version: the WebUI checkpoint it trains on, saved in its config, and switching to it.

A version records its checkpoint — WebUI's name, short hash and sha256, and the file as kohya's
``pretrained_model_name_or_path`` — when the user chooses one in the Train tab (loaded through the
host's own loader) or, where none was chosen, when a training starts on the loaded one. A training
whose saved base model is not the loaded one is refused with a question (:class:`BaseModelMismatch`:
the tab's "Switch to … and train" button, the API's ``switch_base_model``). Previews render on the
version's base model: :func:`on_base_model` switches for the grid and back, or says why it could not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..host import BaseCheckpoint, Host, ProgressUpdate
from . import projects
from .checkpoint import RunInfo

LOAD_JOB = "model-workbench-load-checkpoint"
MSG_MISMATCH = ("{project} / {version} trains on {wanted}, but {loaded} is loaded. Switch to {wanted} and train, "
                "or choose {loaded} as the version's base model.")
MSG_NOT_LISTED = ("The base model {wanted} of {project} / {version} is not in WebUI's checkpoint list; put the file "
                  "in the checkpoint folder or choose another base model.")
MSG_UNKNOWN_CHOICE = "{name} is not in WebUI's checkpoint list; refresh the page and choose again."
MSG_NOT_IN_LIST = "{name} is not in WebUI's checkpoint list."
MSG_WAIT_FOR_TRAINING = "Switching the base model waits until the training has finished."
MSG_LOADING = "Loading the checkpoint {name}…"
MSG_PREVIEW_OTHER_BASE = ("These previews were rendered on {loaded}, not on {wanted}, the base model of {version}: "
                          "{reason}")


class BaseModelMismatch(RuntimeError):
    """A training's saved base model is not the loaded checkpoint; ``checkpoint`` is the one to switch to."""

    def __init__(self, message: str, checkpoint: BaseCheckpoint) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


def saved_base_model(config: Mapping[str, Any]) -> BaseCheckpoint | None:
    """The base model a version's config records, or None where it records none."""
    name = str(config.get("base_model") or "")
    if not name:
        return None
    shorthash = str(config.get("base_model_hash") or "") or None
    return BaseCheckpoint(title=f"{name} [{shorthash}]" if shorthash else name, name=name,
                          filename=str(config.get("pretrained_model_name_or_path") or ""), shorthash=shorthash,
                          sha256=str(config.get("base_model_sha256") or "") or None)


def base_model_fields(checkpoint: BaseCheckpoint) -> dict[str, str]:
    """The config fields that record ``checkpoint`` as the base model."""
    sha256 = checkpoint.sha256 or ""
    return {"base_model": checkpoint.name, "base_model_hash": checkpoint.shorthash or sha256[:10],
            "base_model_sha256": sha256, "pretrained_model_name_or_path": checkpoint.filename}


def record_base_model(root: str | Path, project: str, version: str, checkpoint: BaseCheckpoint) -> None:
    """Save ``checkpoint`` as the version's base model, keeping the rest of its config."""
    config = projects.read_version_config(root, project, version)
    projects.write_version_config(root, project, version, {**config, **base_model_fields(checkpoint)})


def run_info(checkpoint: BaseCheckpoint | None) -> RunInfo:
    """The base model part of a LoRA's metadata (``ss_sd_model_name`` and its hashes, as sd-scripts writes)."""
    if checkpoint is None:
        return RunInfo()
    return RunInfo(sd_model_name=os.path.basename(checkpoint.filename or checkpoint.name),
                   sd_model_hash=checkpoint.legacy_hash, new_sd_model_hash=checkpoint.sha256)


def listed(host: Host, wanted: BaseCheckpoint) -> BaseCheckpoint | None:
    """``wanted`` as the host lists it (the same file), or None."""
    return next((c for c in host.checkpoints() if wanted.same_as(c)), None)


def switch_to(host: Host, wanted: BaseCheckpoint) -> BaseCheckpoint:
    """Load ``wanted`` unless it is loaded (call inside ``host.gpu_lock``); returns the loaded checkpoint."""
    current = host.loaded_checkpoint()
    if current is not None and wanted.same_as(current):
        return current
    host.report_progress(ProgressUpdate(0, 1, MSG_LOADING.format(name=wanted.title)))
    return host.load_checkpoint(wanted)


def choose_base_model(host: Host, root: str | Path, project: str, version: str, title: str) -> BaseCheckpoint:
    """Load the checkpoint ``title`` (WebUI's title or name) through the host and save it as the version's
    base model; returns it as loaded (with its hash). Raises ValueError, ProjectError or
    HostFeatureUnavailable with a sentence; ``RuntimeError`` when the GPU is busy is the caller's to check."""
    wanted = next((c for c in host.checkpoints() if title in (c.title, c.name)), None)
    if wanted is None:
        raise ValueError(MSG_UNKNOWN_CHOICE.format(name=title))
    projects.read_version_config(root, project, version)  # the version exists before anything loads
    with host.gpu_lock(LOAD_JOB):
        loaded = switch_to(host, wanted)
    record_base_model(root, project, version, loaded)
    return loaded


def _other_base(host: Host, config: Mapping[str, Any]) -> tuple[BaseCheckpoint, BaseCheckpoint] | None:
    """(the version's base model, the loaded checkpoint) where they differ; None where the version
    records none, the host does not say what is loaded, or it is the same file."""
    wanted = saved_base_model(config)
    loaded = host.loaded_checkpoint()
    if wanted is None or loaded is None or wanted.same_as(loaded):
        return None
    return wanted, loaded


def check_base_model(host: Host, config: Mapping[str, Any], project: str, version: str,
                     switch: bool) -> BaseCheckpoint | None:
    """Before a training starts: the checkpoint to switch to (``switch``), None when none is needed;
    :class:`BaseModelMismatch` with the question when one is needed and ``switch`` is off; ValueError when
    the saved base model is not in the host's list."""
    other = _other_base(host, config)
    if other is None:
        return None
    wanted, loaded = other
    target = listed(host, wanted)
    if target is None:
        raise ValueError(MSG_NOT_LISTED.format(wanted=wanted.title, project=project, version=version))
    if not switch:
        raise BaseModelMismatch(MSG_MISMATCH.format(project=project, version=version, wanted=target.title,
                                                    loaded=loaded.title), target)
    return target


@contextmanager
def on_base_model(host: Host, config: Mapping[str, Any], version: str) -> Iterator[list[str]]:
    """Inside ``host.gpu_lock``: the version's base model loaded for a grid and the checkpoint loaded
    before put back afterwards. Where it cannot be loaded, the grid renders on the loaded one and the
    yielded list holds a sentence saying so."""
    notes: list[str] = []
    other = _other_base(host, config)
    if other is None:
        yield notes
        return
    wanted, before = other
    target = listed(host, wanted)
    try:
        if target is None:
            raise ValueError(MSG_NOT_IN_LIST.format(name=wanted.title))
        switch_to(host, target)
    except Exception as exc:  # WebUI's loader puts the previous model back; the grid renders on it
        notes.append(MSG_PREVIEW_OTHER_BASE.format(loaded=before.title, wanted=wanted.title, version=version,
                                                   reason=exc))
        yield notes
        return
    try:
        yield notes
    finally:
        switch_to(host, before)
