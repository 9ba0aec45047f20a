"""A download queue with bounded concurrency, progress events, cancel/pause/retry and a pollable snapshot.

The UI polls ``snapshot()`` (a list of ``JobSnapshot``) or listens to ``on_event``. Jobs run on a
fixed number of worker threads; each job is one ``Transfer``.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from . import messages as msg
from .errors import Cancelled, DownloadError
from .filenames import sanitize_filename
from .state import find_partials, remove_partial
from .transfer import DownloadOptions, DownloadRequest, DownloadResult, Progress, Transfer, source_name


class JobStatus(str, Enum):
    QUEUED = "queued"
    RESOLVING = "resolving"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"

    @property
    def active(self) -> bool:
        return self in (JobStatus.QUEUED, JobStatus.RESOLVING, JobStatus.DOWNLOADING, JobStatus.VERIFYING)


_FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
_REPLACEABLE = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PAUSED)


@dataclass(frozen=True)
class JobSnapshot:
    id: str
    name: str
    status: JobStatus
    bytes: int
    total: int | None
    speed: float
    eta: float | None
    message: str
    destination: str | None  # the installed file (or where it will go)
    error_kind: str | None = None
    retryable: bool = False
    reused: bool = False
    version_id: int | None = None
    verified: bool = True  # False once installed without a checksum to compare with
    own_source: bool = False  # the request brought its own source (a Hub file): Civitai's key does not apply

    @property
    def fraction(self) -> float | None:
        return self.bytes / self.total if self.total else None


class DestinationTaken(ValueError):
    """Another file is being downloaded to the same path: two jobs would write one file."""


def _target(request: DownloadRequest) -> Path | None:
    """The path a request will write, when its name is known before the download starts (without a
    name, the server's Content-Disposition decides)."""
    return Path(request.dest_dir) / sanitize_filename(request.filename) if request.filename else None


def _same_download(a: DownloadRequest, b: DownloadRequest) -> bool:
    """One URL into one folder under one name: a second ask for a job, or a new try of it."""
    return a.url == b.url and Path(a.dest_dir) == Path(b.dest_dir) and _target(a) == _target(b)


class _Job:
    def __init__(self, job_id: str, request: DownloadRequest) -> None:
        self.id = job_id
        self.request = request
        self.status = JobStatus.QUEUED
        self.progress = Progress("queued", 0, None, 0.0, None)
        self.message = msg.QUEUED
        self.result: DownloadResult | None = None
        self.error: DownloadError | None = None
        self.cancel = threading.Event()
        self.keep_partial = False  # pause keeps the .part; cancel removes it
        self.destination: Path | None = None

    def snapshot(self) -> JobSnapshot:
        name = self.destination.name if self.destination else (self.request.filename or self.request.title or self.id)
        return JobSnapshot(
            id=self.id, name=name, status=self.status, bytes=self.progress.bytes, total=self.progress.total,
            speed=self.progress.speed, eta=self.progress.eta, message=self.message,
            destination=str(self.destination) if self.destination else None,
            error_kind=self.error.kind if self.error else None,
            retryable=bool(self.error and self.error.retryable) or self.status in (JobStatus.CANCELLED, JobStatus.PAUSED),
            reused=bool(self.result and self.result.reused), version_id=self.request.version_id,
            verified=self.result.verified if self.result else True, own_source=self.request.source is not None)


class DownloadQueue:
    """``add()`` requests; ``snapshot()`` to poll; ``cancel``/``pause``/``retry``/``remove`` by job id.

    ``on_installed(request, result)`` runs on the worker thread after a file is installed (e.g. write
    sidecars); if it raises, the job is still done and its message says what failed.
    """

    def __init__(self, client: Any, *, max_concurrent: int = 2, options: DownloadOptions | None = None,
                 on_event: Callable[[JobSnapshot], None] | None = None,
                 on_installed: Callable[[DownloadRequest, DownloadResult], None] | None = None,
                 transfer_factory: Callable[..., Transfer] = Transfer) -> None:
        self.client = client
        self.options = options or DownloadOptions()
        self.on_event = on_event
        self.on_installed = on_installed
        self.transfer_factory = transfer_factory
        self._jobs: dict[str, _Job] = {}
        self._pending: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._workers = [threading.Thread(target=self._worker, daemon=True, name=f"mw-download-{i}")
                         for i in range(max(1, max_concurrent))]
        for w in self._workers:
            w.start()

    # -- API for the UI -------------------------------------------------------------------------
    def add(self, request: DownloadRequest) -> str:
        """Queue a download. The same URL to the same path, already queued or running, returns that job's
        id; the same URL under another name is a job of its own. Raises :class:`DestinationTaken` when
        another file is being downloaded to the same path."""
        target = _target(request)
        with self._lock:
            self._drop_replaced(request)
            for job in self._jobs.values():
                if not job.status.active:
                    continue
                if _same_download(job.request, request):
                    return job.id
                if target is not None and target in (job.destination, _target(job.request)):
                    raise DestinationTaken(msg.DESTINATION_TAKEN.format(name=target.name, folder=target.parent))
            job = _Job(f"dl-{next(self._ids)}", request)
            self._jobs[job.id] = job
        self._pending.put(job.id)
        self._notify(job)
        return job.id

    def cancel(self, job_id: str) -> bool:
        """Stop and delete the partial file."""
        return self._stop(job_id, keep_partial=False)

    def pause(self, job_id: str) -> bool:
        """Stop but keep the partial file; ``retry`` resumes it."""
        return self._stop(job_id, keep_partial=True)

    def retry(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status.active:
                return False
            job.status, job.message, job.error, job.result = JobStatus.QUEUED, msg.QUEUED, None, None
            job.cancel = threading.Event()
            job.keep_partial = False
        self._pending.put(job_id)
        self._notify(job)
        return True

    def remove(self, job_id: str) -> bool:
        """Forget a finished, failed or cancelled job (an active one must be cancelled first)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status.active:
                return False
            del self._jobs[job_id]
            self._changed.notify_all()
        return True

    def clear_finished(self) -> int:
        """Forget every installed, failed or cancelled job (the panel's "Clear finished"); paused ones stay."""
        with self._lock:
            finished = [job_id for job_id, job in self._jobs.items() if job.status in _FINISHED]
            for job_id in finished:
                del self._jobs[job_id]
            self._changed.notify_all()
        return len(finished)

    def snapshot(self) -> list[JobSnapshot]:
        with self._lock:
            return [job.snapshot() for job in self._jobs.values()]

    def get(self, job_id: str) -> JobSnapshot | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.snapshot() if job else None

    def resume_partials(self, folders: Iterable[Path], source_for: Callable[[str], Any] | None = None) -> list[str]:
        """After a restart: queue every ``<name>.part`` with a state file found under ``folders``.

        ``source_for(url)`` names the source of a part's URL (a Hub file's, say), None for the queue's own."""
        ids = []
        for folder in folders:
            if not Path(folder).is_dir():
                continue
            for final, state in find_partials(Path(folder)):
                ids.append(self.add(DownloadRequest(url=state.url, dest_dir=final.parent, filename=final.name,
                                                    sha256=state.sha256, version_id=state.version_id,
                                                    file_id=state.file_id, title=final.name,
                                                    source=source_for(state.url) if source_for else None)))
        return ids

    def wait(self, job_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the job (or every job) is no longer active; False on timeout. For tests and scripts."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                jobs = [self._jobs[job_id]] if job_id in self._jobs else ([] if job_id else list(self._jobs.values()))
                if not any(j.status.active for j in jobs):
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left if left is not None else 0.5)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Pause everything (parts are kept for the next start) and stop the workers."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.status.active:
                self.pause(job.id)
        for _ in self._workers:
            self._pending.put(None)
        for w in self._workers:
            w.join(timeout)

    # -- internals -------------------------------------------------------------------------------
    def _drop_replaced(self, request: DownloadRequest) -> None:
        """A new try of a file that failed, was cancelled or paused takes that job's place (caller holds the lock)."""
        for job_id, job in list(self._jobs.items()):
            if job.status in _REPLACEABLE and _same_download(job.request, request):
                del self._jobs[job_id]

    def _stop(self, job_id: str, keep_partial: bool) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.status.active:
                if job is not None and not keep_partial and job.status == JobStatus.PAUSED:
                    job.status, job.message = JobStatus.CANCELLED, msg.CANCELLED
                    self._remove_part(job)
                    self._changed.notify_all()
                    return True
                return False
            job.keep_partial = keep_partial
            job.cancel.set()
            if job.status == JobStatus.QUEUED:  # never started: settle it now
                job.status = JobStatus.PAUSED if keep_partial else JobStatus.CANCELLED
                job.message = msg.PAUSED if keep_partial else msg.CANCELLED
                if not keep_partial:
                    self._remove_part(job)
                self._changed.notify_all()
        self._notify(job)
        return True

    @staticmethod
    def _remove_part(job: _Job) -> None:
        if job.destination is not None:
            remove_partial(job.destination)

    def _worker(self) -> None:
        while True:
            job_id = self._pending.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None or job.status != JobStatus.QUEUED or job.cancel.is_set():
                    continue
                job.status, job.message = JobStatus.RESOLVING, msg.RESOLVING.format(source=source_name(self._source(job)))
            self._notify(job)
            self._run(job)

    def _source(self, job: _Job) -> Any:
        """What resolves and streams the job's file: the request's own source (a Hub file's), else the queue's client."""
        return job.request.source or self.client

    def _run(self, job: _Job) -> None:
        source = self._source(job)
        resolving = msg.RESOLVING.format(source=source_name(source))

        def progress(p: Progress) -> None:
            with self._lock:
                job.progress = p
                job.status = {"resolving": JobStatus.RESOLVING, "verifying": JobStatus.VERIFYING}.get(
                    p.phase, JobStatus.DOWNLOADING)
                job.message = {"resolving": resolving, "verifying": msg.VERIFYING}.get(p.phase, msg.DOWNLOADING)
                job.destination = transfer.final or job.destination
            self._notify(job)

        transfer = self.transfer_factory(source, job.request, replace(self.options), progress=progress, cancel=job.cancel)
        status, message, result, error = JobStatus.FAILED, "", None, None
        try:
            result = transfer.run()
            status = JobStatus.DONE
            done = msg.REUSED if result.reused else msg.COMPLETED if result.verified else msg.COMPLETED_UNVERIFIED
            message = done.format(name=result.path.name, source=source_name(source))
        except Cancelled:
            status = JobStatus.PAUSED if job.keep_partial else JobStatus.CANCELLED
            message = msg.PAUSED if job.keep_partial else msg.CANCELLED
            if not job.keep_partial and transfer.final is not None:
                transfer._close_part()
                remove_partial(transfer.final)
        except DownloadError as exc:
            error, message = exc, exc.message
        except Exception as exc:  # noqa: BLE001 - a bug must fail the job with a message, not kill the worker
            error = DownloadError(msg.UNEXPECTED.format(name=transfer.name, reason=exc), kind="unexpected")
            message = error.message
        if result is not None and self.on_installed is not None:
            try:
                self.on_installed(job.request, result)
            except Exception as exc:  # noqa: BLE001 - sidecars are a bonus; the model is installed
                message = msg.SIDECARS_FAILED.format(name=result.path.name, reason=exc)
        with self._lock:
            job.status, job.message, job.result, job.error = status, message, result, error
            job.destination = result.path if result else (transfer.final or job.destination)
            if result is not None:
                job.progress = Progress("done", result.size, result.size, job.progress.speed, 0.0)
            self._changed.notify_all()
        self._notify(job)

    def _notify(self, job: _Job) -> None:
        with self._lock:
            snap = job.snapshot()
            self._changed.notify_all()
        if self.on_event is not None:
            try:
                self.on_event(snap)
            except Exception:  # noqa: BLE001 - a UI callback must never break a download
                pass
