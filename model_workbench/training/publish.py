"""Publish a trained checkpoint: copy it into WebUI's LoRA folder with a preview and user metadata.

The file goes to ``<LoRA folder>/<project>/<checkpoint file name>`` (its basename is already unique:
``<project>_<version>-<epoch>``), so its name in prompts is that stem. Beside it:

- ``<name>.preview.png``: the newest preview cell of this checkpoint at the chosen weight, if any;
- ``<name>.json``: WebUI's user metadata (``activation text`` = the trigger words, ``preferred weight``,
  ``sd version``, ``description``, ``notes``), merged into what a user already wrote there.

Then the host refreshes its LoRA list. Nothing a user made is overwritten: a different file already
at the target gets a ``-1``, ``-2``… name instead.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_workbench.jsonfile import write_json_atomic

from ..host import Host, ModelKind
from . import projects
from .previews import cell_image, latest_cell_for

MSG_NO_LORA_FOLDER = "The host has no LoRA folder to publish into; set one in Settings."
MSG_NOT_FOUND = "The checkpoint {path} does not exist."
MSG_NOT_IN_PROJECT = "The checkpoint {path} is not one of {project} / {version}'s checkpoints."
MSG_BAD_WEIGHT = "The preferred weight must be a number (got {value!r})."

SD_VERSIONS = {"sd_v1": "SD1", "sd_v2": "SD2", "sdxl_base_v1-0": "SDXL"}


@dataclass
class PublishResult:
    path: Path
    name: str
    metadata_path: Path
    preview_path: Path | None

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.name, "metadata": str(self.metadata_path),
                "preview": str(self.preview_path) if self.preview_path else None}


def _target(folder: Path, source: Path) -> Path:
    target = folder / source.name
    n = 0
    while target.exists() and not filecmp.cmp(source, target, shallow=False):
        n += 1
        target = folder / f"{source.stem}-{n}{source.suffix}"
    return target


def copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` so that a reader sees the old file or the new one, never half."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_card(path: Path) -> dict[str, Any]:
    """WebUI's user metadata beside a model file (``<name>.json``), or {} when there is none or it is unreadable."""
    if not path.is_file():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def user_metadata(existing: dict[str, Any], *, trigger_words: str, weight: float, sd_version: str,
                  description: str, notes: str) -> dict[str, Any]:
    """WebUI's sidecar keys; what the user asked for now wins, their own description and notes stay."""
    data = dict(existing)
    data["activation text"] = trigger_words.strip()
    data["preferred weight"] = float(weight)
    data.setdefault("sd version", sd_version)
    if not str(data.get("description", "")).strip():
        data["description"] = description
    if not str(data.get("notes", "")).strip():
        data["notes"] = notes
    data.setdefault("negative text", "")
    return data


def publish_checkpoint(host: Host, project: str, version: str, checkpoint: str | Path, weight: float = 1.0,
                       trigger_words: str = "", root: str | Path | None = None) -> PublishResult:
    """Copy ``checkpoint`` into the LoRA folder (a subfolder per project) with its sidecars; refresh the host."""
    root = Path(root) if root is not None else host.data_dir()
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        raise ValueError(MSG_BAD_WEIGHT.format(value=weight)) from None
    paths = projects.project_paths(root, project)
    source = Path(checkpoint)
    if not source.is_file():
        raise ValueError(MSG_NOT_FOUND.format(path=source))
    known = {c.path.resolve() for c in projects.list_checkpoints(root, paths.name, version)}
    if source.resolve() not in known:
        raise ValueError(MSG_NOT_IN_PROJECT.format(path=source, project=paths.name, version=version))
    folders = host.model_folders().get(ModelKind.LORA) or []
    if not folders:
        raise ValueError(MSG_NO_LORA_FOLDER)
    folder = Path(folders[0]) / paths.name
    folder.mkdir(parents=True, exist_ok=True)
    target = _target(folder, source)
    if not target.exists():  # else the identical file is already there (checked by _target)
        copy_atomic(source, target)

    info = projects.checkpoint_info(source)
    meta = info.metadata
    sd_version = SD_VERSIONS.get(meta.get("ss_base_model_version", ""), "Unknown")
    epoch = f", epoch {info.epoch}" if info.epoch is not None else ""
    description = f"LoRA trained with Model Workbench: project {paths.name}, version {version}{epoch}."
    notes = f"Source: {source}" + (f"; steps {info.steps}" if info.steps else "")
    metadata_path = target.with_suffix(".json")
    data = user_metadata(read_card(metadata_path), trigger_words=trigger_words, weight=weight, sd_version=sd_version,
                         description=description, notes=notes)
    write_json_atomic(metadata_path, data, indent=4)  # WebUI writes indent=4

    preview_path = target.with_name(target.stem + ".preview.png")
    if not preview_path.exists():
        found = latest_cell_for(paths.grids, source, weight)
        image = cell_image(*found) if found else None
        if image is not None:
            image.save(preview_path)
    host.refresh_models(ModelKind.LORA)
    return PublishResult(path=target, name=target.stem, metadata_path=metadata_path,
                         preview_path=preview_path if preview_path.exists() else None)
