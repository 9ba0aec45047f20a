"""Publish a chosen embedding or hypernetwork step into WebUI's folders, with a preview and WebUI's card.

- embedding → the host's embeddings folder (``host.model_folders()[ModelKind.EMBEDDING][0]``) as
  ``<trigger word>.pt``: WebUI names an embedding by its file, so the file is named as the word;
- hypernetwork → the hypernetworks folder as ``<name>.pt``.

Beside it: ``<name>.preview.png`` (the step's newest grid cell, when one was rendered) and WebUI's card
``<name>.json`` (``description``; ``notes``: project, version and step), keeping what else the user wrote
there. A different file already at the target is replaced only with ``overwrite`` (the user confirmed);
then the host refreshes that list (``host.refresh_models``). Entry point: :func:`publish_step`.
"""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

from model_workbench.jsonfile import write_json_atomic

from ..host import Host, ModelKind
from .previews import cell_image, latest_cell_for
from .publish import PublishResult, copy_atomic, read_card
from .webui_kinds import VersionKind
from .webui_previews import SnapshotSource

MSG_NO_FOLDER = "The host has no {kind} folder to publish into; set one in Settings."
MSG_EXISTS = "{path} already exists and is a different file; confirm to replace it."
MSG_DESCRIPTION = "{kind} trained with WebUI's trainer in Model Workbench."
MSG_NOTES_VERSION = "Project {project}, version {version}, step {step}."
MSG_NOTES_RUN = "WebUI training run {title}, step {step}."

MODEL_KIND = {VersionKind.EMBEDDING: ModelKind.EMBEDDING, VersionKind.HYPERNETWORK: ModelKind.HYPERNETWORK}
KIND_WORD = {VersionKind.EMBEDDING: "Embedding", VersionKind.HYPERNETWORK: "Hypernetwork"}


class PublishExists(ValueError):
    """The target is taken by a different file and the user has not confirmed replacing it."""


def _card(path: Path, description: str, notes: str) -> dict[str, Any]:
    return {**read_card(path), "description": description, "notes": notes}


def publish_step(host: Host, source: SnapshotSource, step_path: str | Path, overwrite: bool = False,
                 weight: float = 1.0) -> PublishResult:
    """Copy one of ``source``'s snapshots into WebUI's folder of its kind; see the module's docstring.

    Raises ValueError (not one of the source's steps, no folder) or :class:`PublishExists`."""
    from .webui_runs import pick_snapshots

    snapshot = pick_snapshots(source.snapshots, [str(step_path)])[0]
    kind = MODEL_KIND[source.kind]
    folders = host.model_folders().get(kind) or []
    if not folders:
        raise ValueError(MSG_NO_FOLDER.format(kind=kind.value))
    folder = Path(folders[0])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{source.name}.pt"
    differs = target.exists() and not filecmp.cmp(snapshot.path, target, shallow=False)
    if differs and not overwrite:
        raise PublishExists(MSG_EXISTS.format(path=target))
    if differs or not target.exists():
        copy_atomic(snapshot.path, target)

    if source.project and source.version:
        notes = MSG_NOTES_VERSION.format(project=source.project, version=source.version, step=snapshot.step)
    else:
        notes = MSG_NOTES_RUN.format(title=source.title, step=snapshot.step)
    metadata_path = target.with_suffix(".json")
    write_json_atomic(metadata_path, _card(metadata_path, MSG_DESCRIPTION.format(kind=KIND_WORD[source.kind]), notes),
                      indent=4)  # WebUI writes its cards with indent=4

    preview_path = target.with_name(target.stem + ".preview.png")
    found = latest_cell_for(source.grids, snapshot.path, weight) if source.grids.is_dir() else None
    image = cell_image(*found) if found else None
    if image is not None:
        image.save(preview_path)  # this step's look, replacing an earlier step's
    host.refresh_models(kind)
    return PublishResult(path=target, name=target.stem, metadata_path=metadata_path,
                         preview_path=preview_path if preview_path.exists() else None)
