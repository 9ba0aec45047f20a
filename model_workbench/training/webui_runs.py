"""The step snapshots WebUI's trainer leaves on disk, read back from its log folders.

WebUI writes a run to ``<log dir>/<date>/<name>/embeddings/<name>-<step>.pt`` (hypernetworks:
``…/hypernetworks/<name>-<step>.pt``). A version of kind embedding or hypernetwork gives WebUI a log
folder inside the version (:func:`version_log_dir`), so its checkpoints are whatever that folder holds:
a page reload or an app restart lists the same rows. WebUI's own Train tab writes to its log directory
(``host.webui_training_log_dir()``); :func:`outside_runs` lists those runs so their steps can be previewed
and published the same way.

Pure: folders and names only (no torch, no ``modules``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import projects
from .webui_kinds import StepSnapshot, VersionKind

LOG_DIR = "webui_log"  # in the version's folder: WebUI's log_directory for the version's runs
SUBFOLDER = {VersionKind.EMBEDDING: "embeddings", VersionKind.HYPERNETWORK: "hypernetworks"}
OUTSIDE_GRIDS = "webui_runs"  # in the data folder: grids of runs made in WebUI's own Train tab

MSG_RUN_MISSING = "There is no WebUI training run {run!r} in WebUI's log folder."
MSG_NO_LOG_DIR = "This host has no WebUI training log folder."
MSG_SNAPSHOT_NOT_IN_RUN = "The file {path} is not one of the run's saved steps."

_STEP = re.compile(r"^(?P<name>.+)-(?P<step>\d+)\.pt$")


def version_log_dir(root: str | Path, project: str, version: str) -> Path:
    """The folder WebUI's trainer logs a version's runs into."""
    return projects.project_paths(root, project).version_dir(version) / LOG_DIR


def snapshots_in(folder: Path, kind: VersionKind, name: str | None = None) -> list[StepSnapshot]:
    """Every ``<name>-<step>.pt`` under ``folder`` in a ``embeddings``/``hypernetworks`` folder of
    ``kind``, by step (a later run's file of the same step last); ``name`` keeps one network's only."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.rglob(f"{SUBFOLDER[kind]}/*.pt"):
        match = _STEP.match(path.name)
        if not match or not path.is_file() or (name is not None and match["name"] != name):
            continue
        found.append((int(match["step"]), path.stat().st_mtime, StepSnapshot(kind, match["name"], int(match["step"]), path)))
    found.sort(key=lambda item: (item[0], item[1], str(item[2].path)))
    return [snapshot for _, _, snapshot in found]


def version_snapshots(root: str | Path, project: str, version: str, kind: VersionKind,
                      name: str | None = None) -> list[StepSnapshot]:
    """The version's checkpoints: one row per step saved by its runs, newest step last."""
    return snapshots_in(version_log_dir(root, project, version), kind, name)


def snapshot_row(snapshot: StepSnapshot) -> dict[str, Any]:
    """A snapshot as JSON (the API's and the checkpoint table's row)."""
    stat = snapshot.path.stat() if snapshot.path.is_file() else None
    return {"kind": snapshot.kind.value, "name": snapshot.name, "step": snapshot.step, "path": str(snapshot.path),
            "size": stat.st_size if stat else 0, "mtime": stat.st_mtime if stat else 0.0}


@dataclass(frozen=True)
class OutsideRun:
    """A run of WebUI's own Train tab: ``<date>/<name>`` with the kinds it saved steps of."""

    id: str  # "<date>/<name>", unique within the log folder
    date: str
    name: str
    folder: Path
    snapshots: dict[VersionKind, list[StepSnapshot]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "date": self.date, "name": self.name, "folder": str(self.folder),
                "kinds": {kind.value: [snapshot_row(s) for s in snaps] for kind, snaps in self.snapshots.items()}}


def outside_runs(log_dir: Path | None) -> list[OutsideRun]:
    """WebUI's own runs in ``log_dir`` (``<date>/<name>/{embeddings,hypernetworks}/*.pt``), newest date first."""
    if log_dir is None or not Path(log_dir).is_dir():
        return []
    runs = []
    for date_dir in sorted((p for p in Path(log_dir).iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True):
        for run_dir in sorted((p for p in date_dir.iterdir() if p.is_dir()), key=lambda p: p.name.lower()):
            found = {kind: snaps for kind in SUBFOLDER if (snaps := snapshots_in(run_dir, kind))}
            if found:
                runs.append(OutsideRun(f"{date_dir.name}/{run_dir.name}", date_dir.name, run_dir.name, run_dir, found))
    return runs


def find_outside_run(log_dir: Path | None, run_id: str) -> OutsideRun:
    """The run ``<date>/<name>``, or ValueError saying it is not there."""
    if log_dir is None:
        raise ValueError(MSG_NO_LOG_DIR)
    for run in outside_runs(log_dir):
        if run.id == run_id:
            return run
    raise ValueError(MSG_RUN_MISSING.format(run=run_id))


def pick_snapshots(available: list[StepSnapshot], paths: list[str] | None) -> list[StepSnapshot]:
    """The snapshots named by ``paths`` (all when none), each checked to be one of ``available``."""
    if not paths:
        return list(available)
    by_path = {str(s.path.resolve()): s for s in available}
    chosen = []
    for text in paths:
        snapshot = by_path.get(str(Path(text).resolve()))
        if snapshot is None:
            raise ValueError(MSG_SNAPSHOT_NOT_IN_RUN.format(path=text))
        chosen.append(snapshot)
    return chosen
