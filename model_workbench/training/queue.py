"""The training queue: versions trained one after another (a sweep's, or any queued by hand).

Kept in ``training_queue.json`` in the data folder (written atomically), so a page reload shows it and a
restart keeps it: queued items stay queued, and the item that was training when the app stopped is
marked interrupted; :meth:`TrainingQueue.start` resumes it from its saved state, then goes on. The queue
does not start by itself after a restart (no surprise training while WebUI starts).

The host's one :class:`~model_workbench.training.session.TrainingService` trains each item; the queue
listens for the end of each run and starts the next. A finished or failed item lets the queue go on; an
item the user stopped pauses it. Each item trains with its own version's config, so whatever that config
asks for at the end of a run (samples, previews) comes with it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_workbench.host import Host, HostFeatureUnavailable
from model_workbench.jsonfile import write_json_atomic
from model_workbench.per_host import PerHost

from . import projects
from .session import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    MSG_APP_STOPPED,
    RUNNING,
    TrainingBusy,
    TrainingService,
    config_from,
    saved_settings,
    service_for,
)
from .sweep import MSG_NO_SWEEP, SweepError, SweepPlan, plan_sweep

QUEUE_FILE = "training_queue.json"
QUEUED = "queued"
__all__ = ["FAILED", "FINISHED", "INTERRUPTED", "ItemMissing", "ItemTraining", "QUEUED", "QUEUE_FILE", "RUNNING", "QueueError", "TrainingQueue",
           "queue_for"]

MSG_ITEM_MISSING = "There is no queue item {id}; the queue has changed since, look again."
MSG_ITEM_RUNNING = "Queue item {id} ({project} / {version}) is training; stop it before removing it."
MSG_BAD_DIRECTION = "The direction must be up or down."


class QueueError(ValueError):
    """A queue operation that cannot be done; the message says why."""


class ItemMissing(QueueError):
    """No item has that id (gone since the page showed it)."""


class ItemTraining(QueueError):
    """The item trains right now (a conflict, not a bad request)."""


@dataclass
class QueueItem:
    id: int
    project: str
    version: str
    state: str = QUEUED
    sweep: str = ""  # the sweep that queued it ("" when queued alone)
    resume: bool = False  # its last start continued from a saved state
    message: str = ""
    added_at: float = field(default_factory=time.time)


class TrainingQueue:
    """The items waiting, training and done, in order; persisted after every change."""

    def __init__(self, service: TrainingService, path: str | Path) -> None:
        self._service = service
        self._path = Path(path)
        self._lock = threading.RLock()
        self._items: list[QueueItem] = []
        self._next_id = 1
        self._run_requested = False  # the user asked it to run; cleared when it is empty or an item is stopped
        self._load()
        service.add_end_listener(self._on_end)

    # -- persistence --------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            items = [QueueItem(**{k: v for k, v in raw.items() if k in QueueItem.__dataclass_fields__})
                     for raw in data.get("items", [])]
            next_id = int(data.get("next_id", 1))
        except (OSError, ValueError, TypeError, AttributeError):
            return  # no queue yet, or a damaged file: start empty rather than break the tab
        live = self._service.status()
        for item in items:
            # Recorded as training, yet this app trains something else: the app stopped during it.
            if item.state == RUNNING and not (live["state"] == RUNNING and (live["project"], live["version"])
                                              == (item.project, item.version)):
                item.state, item.message = INTERRUPTED, MSG_APP_STOPPED
        self._items = items
        self._next_id = max([next_id, *(i.id + 1 for i in items)])

    def _save(self) -> None:
        # Not "run when loaded": after a restart the queue waits for Run (the running item is interrupted).
        data = {"next_id": self._next_id, "items": [asdict(i) for i in self._items]}
        try:
            write_json_atomic(self._path, data, indent=2)
        except OSError:
            pass  # the queue still runs in memory; only a restart would lose it

    # -- queries ------------------------------------------------------------------------------
    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(item) for item in self._items]

    def snapshot(self) -> dict[str, Any]:
        """The ``GET /train/queue`` shape."""
        with self._lock:
            return {"active": self.is_active(), "items": self.items()}

    def is_active(self) -> bool:
        """True while an item trains (also in the moment between one item's end and the next's start)."""
        with self._lock:
            return any(item.state == RUNNING for item in self._items)

    def sweep_versions(self, project: str) -> list[str]:
        """The finished versions of the project's latest sweep that has any (for one-click Compare)."""
        with self._lock:
            for item in reversed(self._items):
                if item.project == project and item.sweep and item.state == FINISHED:
                    return [i.version for i in self._items
                            if i.sweep == item.sweep and i.project == project and i.state == FINISHED]
        return []

    # -- changes ------------------------------------------------------------------------------
    def plan(self, project: str, base: str, settings: dict[str, Any]) -> tuple[SweepPlan, list[dict[str, Any]]]:
        """The versions a sweep would create and their configs (the base version's, then the settings),
        every refusal said now: no project, nothing varies, too many, a name taken, an invalid value."""
        root = self._service.root
        paths = projects.project_paths(root, project)
        if not paths.dir.is_dir():
            raise projects.ProjectError(projects.MSG_PROJECT_MISSING.format(name=paths.name))
        plan = plan_sweep(base, settings)
        if not plan.is_sweep:
            raise SweepError(MSG_NO_SWEEP)
        stored = projects.read_version_config(root, paths.name, plan.base) \
            if paths.version_dir(plan.base).is_dir() else {}
        configs = []
        for run in plan.runs:
            if paths.version_dir(run.version).exists():
                raise projects.ProjectError(projects.MSG_VERSION_EXISTS.format(project=paths.name, name=run.version))
            configs.append(saved_settings(config_from(paths, run.version, stored, run.settings)))
        return plan, configs

    def add_sweep(self, project: str, base: str, settings: dict[str, Any],
                  start: bool = True) -> tuple[SweepPlan, list[int]]:
        """Create the versions :meth:`plan` names, queue them and (with ``start``) run the queue."""
        plan, configs = self.plan(project, base, settings)
        paths = projects.project_paths(self._service.root, project)
        for run, config in zip(plan.runs, configs, strict=True):
            projects.create_version(self._service.root, paths.name, run.version, config)
        with self._lock:
            sweep = f"{paths.name}/{plan.base}@{int(time.time())}-{self._next_id}"
            ids = []
            for run in plan.runs:
                self._items.append(QueueItem(id=self._next_id, project=paths.name, version=run.version, sweep=sweep))
                ids.append(self._next_id)
                self._next_id += 1
            self._save()
        if start:
            self.start()
        return plan, ids

    def _find(self, item_id: int) -> int:
        for index, item in enumerate(self._items):
            if item.id == item_id:
                return index
        raise ItemMissing(MSG_ITEM_MISSING.format(id=item_id))

    def move(self, item_id: int, direction: str) -> None:
        """Move an item one place up or down (at either end it stays)."""
        if direction not in ("up", "down"):
            raise QueueError(MSG_BAD_DIRECTION)
        with self._lock:
            index = self._find(item_id)
            other = index - 1 if direction == "up" else index + 1
            if 0 <= other < len(self._items):
                self._items[index], self._items[other] = self._items[other], self._items[index]
                self._save()

    def remove(self, item_id: int) -> None:
        """Take an item off the queue (its version and checkpoints stay); not while it trains."""
        with self._lock:
            index = self._find(item_id)
            item = self._items[index]
            if item.state == RUNNING:
                raise ItemTraining(MSG_ITEM_RUNNING.format(id=item.id, project=item.project, version=item.version))
            del self._items[index]
            self._save()

    # -- running ------------------------------------------------------------------------------
    def start(self) -> bool:
        """Run the queue: the first waiting or interrupted item now (or when the running training ends),
        then the next. True when an item started or trains already."""
        with self._lock:
            self._run_requested = True
            started = self.is_active() or self._start_next()
            self._save()
            return started

    def _start_next(self) -> bool:
        """Start the first item that waits (an interrupted one resumes); call with the lock held."""
        for item in self._items:
            if item.state not in (QUEUED, INTERRUPTED):
                continue
            resume = item.state == INTERRUPTED and self._service.can_resume(item.project, item.version)
            try:
                self._service.start(item.project, item.version, resume=resume)
            except TrainingBusy:
                return False  # another training runs: its end starts this item
            except (projects.ProjectError, ValueError, HostFeatureUnavailable) as exc:
                item.state, item.message = FAILED, str(exc)  # renamed, deleted, invalid: say so and go on
                continue
            item.state, item.resume, item.message = RUNNING, resume, ""
            return True
        self._run_requested = False
        return False

    def _on_end(self, status: dict[str, Any]) -> None:
        """A run ended (in the training thread): record how, then start the next item."""
        with self._lock:
            for item in self._items:
                if item.state == RUNNING and (item.project, item.version) == (status["project"], status["version"]):
                    item.state = status["state"] if status["state"] in (FINISHED, FAILED, INTERRUPTED) else FAILED
                    item.message = status["message"]
                    if item.state == INTERRUPTED:
                        self._run_requested = False  # the user stopped it: wait for Run
            if self._run_requested:
                self._start_next()
            self._save()


# One queue per host, beside its one training service.
_queue_of_host: PerHost[TrainingQueue] = PerHost(lambda host: TrainingQueue(service_for(host), host.data_dir() / QUEUE_FILE))


def queue_for(host: Host) -> TrainingQueue:
    """The host's training queue (read from the data folder on first use)."""
    return _queue_of_host(host)
