"""Versions of kind embedding or hypernetwork: create one, read and save its fields, build its run.

What the Train Tools tab and the HTTP API call (names kept stable for the UI):

- :func:`create_kind_version` — a new version of ``kind`` with its fields (``POST /webui-kinds/versions``);
- :func:`read_kind_settings` / :func:`save_kind_settings` — the form's values (``GET/POST
  /webui-kinds/settings``); a LoRA version answers ``{"kind": "lora"}`` and keeps its kohya config;
- :func:`train_request` — the :class:`WebuiTrainRequest` a run hands to ``host.train_webui_network``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import projects, webui_fields, webui_runs
from .webui_kinds import EmbeddingFields, HypernetworkFields, VersionKind, WebuiTrainRequest

MSG_NOT_THIS_KIND = "{project} / {version} is a {kind} version; its settings are edited with that kind's form."

Fields = EmbeddingFields | HypernetworkFields


def create_kind_version(root: str | Path, project: str, version: str, kind: VersionKind | str,
                        fields: dict[str, Any] | None = None, templates: Sequence[str] = ()) -> Path:
    """Create ``versions/<version>/`` of ``kind``. With no fields (or no name among them), the network's
    name defaults to the version's name; a LoRA version gets an empty config as before."""
    kind = webui_fields.parse_kind(kind)
    if kind is VersionKind.LORA:
        return projects.create_version(root, project, version, {})
    data = dict(fields or {})
    data.setdefault("name", projects.validate_name(version, "version"))
    checked = webui_fields.fields_from_dict(kind, data, templates)
    return projects.create_version(root, project, version, webui_fields.kind_config(checked))


def version_kind_of(root: str | Path, project: str, version: str) -> VersionKind:
    """The kind of an existing version (LoRA where its config says none)."""
    return webui_fields.version_kind(projects.read_version_config(root, project, version))


def read_kind_settings(root: str | Path, project: str, version: str) -> dict[str, Any]:
    """``{"kind": …, "fields": {…}}`` of a version (a LoRA version: ``{"kind": "lora", "fields": None}``)."""
    config = projects.read_version_config(root, project, version)
    kind = webui_fields.version_kind(config)
    if kind is VersionKind.LORA:
        return {"kind": kind.value, "fields": None}
    return {"kind": kind.value, "fields": webui_fields.fields_to_dict(webui_fields.stored_fields(config))}


def stored_kind_fields(root: str | Path, project: str, version: str) -> Fields:
    """The checked fields of an embedding or hypernetwork version (KindFieldsError for a LoRA one)."""
    config = projects.read_version_config(root, project, version)
    kind = webui_fields.version_kind(config)
    if kind is VersionKind.LORA:
        raise webui_fields.KindFieldsError(webui_fields.MSG_KIND_UNKNOWN.format(kind=kind.value))
    return webui_fields.stored_fields(config)


def save_kind_settings(root: str | Path, project: str, version: str, fields: dict[str, Any],
                       templates: Sequence[str] = (), activations: Sequence[str] = ()) -> Fields:
    """Check and store a non-LoRA version's fields (its kind stays; every other config key too)."""
    config = projects.read_version_config(root, project, version)
    kind = webui_fields.version_kind(config)
    if kind is VersionKind.LORA:
        raise webui_fields.KindFieldsError(MSG_NOT_THIS_KIND.format(project=project, version=version, kind=kind.value))
    checked = webui_fields.fields_from_dict(kind, fields, templates, activations)
    projects.write_version_config(root, project, version, {**config, **webui_fields.kind_config(checked)})
    return checked


FLAT_DATASET = "webui_dataset"  # in the version's folder: every concept's images in one folder, for WebUI


def webui_data_dir(root: str | Path, project: str, version: str) -> Path:
    """The folder WebUI's trainer reads: it lists one folder, not subfolders, so a project with one concept
    gives that concept's folder; with several, their images and captions are linked (or copied) into
    ``versions/<version>/webui_dataset`` afresh, each name prefixed with its concept."""
    paths = projects.project_paths(root, project)
    concepts = projects.list_concepts(root, paths.name)
    if len(concepts) == 1:
        return concepts[0].path
    if not concepts:
        return paths.dataset  # WebUI then says the dataset is empty
    flat = paths.version_dir(version) / FLAT_DATASET
    if flat.is_dir():
        shutil.rmtree(flat)
    flat.mkdir(parents=True)
    for concept in concepts:
        for source in sorted(concept.path.iterdir()):
            suffix = source.suffix.lower()
            if source.is_file() and (suffix in projects.IMAGE_EXTENSIONS or suffix in projects.CAPTION_EXTENSIONS):
                target = flat / f"{concept.name}-{source.name}"
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)  # another disk, or no hard links there
    return flat


def train_request(root: str | Path, project: str, version: str, fields: Fields) -> WebuiTrainRequest:
    """The run of ``fields`` on the project's dataset (:func:`webui_data_dir`), logged inside the version."""
    paths = projects.project_paths(root, project)
    kind = VersionKind.EMBEDDING if isinstance(fields, EmbeddingFields) else VersionKind.HYPERNETWORK
    log_dir = webui_runs.version_log_dir(root, paths.name, version)
    log_dir.mkdir(parents=True, exist_ok=True)
    return WebuiTrainRequest(kind=kind, fields=fields, data_dir=webui_data_dir(root, paths.name, version),
                             log_dir=log_dir)
