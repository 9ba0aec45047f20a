"""SHA256 of model files: several at once, in the background, with progress and cancel.

Where a hash comes from, cheapest first:
1. our own cache (`HashCache`), valid while size and mtime_ns are unchanged;
2. an injected external lookup `(path, webui_title) -> sha256 | None`: inside WebUI this is
   `modules.hashes.sha256_from_cache`, standalone it can be `WebUIHashCacheJson(path)`;
3. a moved or renamed file recognised by the cache (see hash_cache's identity rule);
4. reading the file. hashlib and file reads release the GIL, so a thread pool really hashes
   files in parallel; reads use one large reusable buffer per file (4 MiB by default).
Every hash found in 2–4 is stored in our cache, so the next scan needs no lookup at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Optional, Protocol

from . import messages
from .hash_cache import HashCache, is_sha256_hex

log = logging.getLogger(__name__)

DEFAULT_BUFFER_SIZE = 4 * 1024 * 1024
# Parallel reads help on SSDs and page cache; on one spinning disk they make the head seek, so
# the caller can pass workers=1 for such a folder.
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))
_PROGRESS_INTERVAL_S = 0.1
_SAVE_INTERVAL_S = 10.0

ExternalHashLookup = Callable[[str, Optional[str]], Optional[str]]


class HashTarget(Protocol):
    """What the hasher needs to know about a file; ModelRecord and HashItem both fit."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    device: int

    @property
    def webui_hash_title(self) -> str | None: ...


@dataclass
class HashItem:
    """A file to hash, with the stat values it had when it was listed."""

    path: str
    size: int
    mtime_ns: int
    inode: int = 0
    device: int = 0
    webui_hash_title: str | None = None

    @classmethod
    def from_path(cls, path: str, webui_hash_title: str | None = None) -> HashItem:
        st = os.stat(path)
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, webui_hash_title)


@dataclass
class HashProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: str | None = None  # a file being read now (one of several when in parallel)

    @property
    def fraction(self) -> float:
        if self.bytes_total > 0:
            return min(1.0, self.bytes_done / self.bytes_total)
        return 1.0 if self.files_total == 0 else self.files_done / self.files_total


ProgressCallback = Callable[[HashProgress], None]


@dataclass
class HashReport:
    hashes: dict[str, str] = field(default_factory=dict)  # path as given → sha256 (lower-case hex)
    from_cache: int = 0
    from_external: int = 0
    from_moved: int = 0
    computed: int = 0
    bytes_read: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # path → a sentence for the user
    cancelled: bool = False
    seconds: float = 0.0


class HashCancelled(Exception):
    """Raised inside a worker when the cancel event is set mid-file."""


def sha256_file(
    path: str,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    cancel: threading.Event | None = None,
    on_bytes: Callable[[int], None] | None = None,
    buffer: bytearray | None = None,
) -> str:
    """The SHA256 hex digest of the file at `path`; raises HashCancelled if `cancel` gets set.

    Pass a reusable `buffer` when hashing many files: allocating (and zeroing) a fresh 4 MiB
    buffer per file costs more than hashing a small file.
    """
    digest = hashlib.sha256()
    if buffer is None:
        buffer = bytearray(buffer_size)
    view = memoryview(buffer)
    # Unbuffered: readinto fills our big buffer straight from the OS, no extra copy.
    with open(path, "rb", buffering=0) as handle:
        while True:
            if cancel is not None and cancel.is_set():
                raise HashCancelled()
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
            if on_bytes is not None:
                on_bytes(count)
    return digest.hexdigest()


class _ProgressTracker:
    """Counts files and bytes from all workers and calls the callback at most every 0.1 s."""

    def __init__(self, files_total: int, bytes_total: int, callback: ProgressCallback | None) -> None:
        self._lock = threading.Lock()
        self._callback = callback
        self.state = HashProgress(0, files_total, 0, bytes_total)
        self._last_emit = 0.0

    def add_bytes(self, count: int, current: str) -> None:
        with self._lock:
            self.state.bytes_done += count
            self.state.current = current
            self._emit(force=False)

    def file_done(self, size_not_read: int = 0) -> None:
        with self._lock:
            self.state.files_done += 1
            self.state.bytes_done += size_not_read
            # Throttled like bytes (a thousand cache hits must not mean a thousand UI updates),
            # except the last file, so the final state always reaches the callback.
            self._emit(force=self.state.files_done >= self.state.files_total)

    def snapshot(self) -> HashProgress:
        with self._lock:
            s = self.state
            return HashProgress(s.files_done, s.files_total, s.bytes_done, s.bytes_total, s.current)

    def _emit(self, force: bool) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last_emit < _PROGRESS_INTERVAL_S:
            return
        self._last_emit = now
        s = self.state
        try:
            self._callback(HashProgress(s.files_done, s.files_total, s.bytes_done, s.bytes_total, s.current))
        except Exception:  # a broken UI callback must not stop the hashing
            log.exception("The hash progress callback failed.")


class Hasher:
    """Finds the SHA256 of many files, reusing every cache it can before reading a byte."""

    def __init__(
        self,
        cache: HashCache,
        external_lookup: ExternalHashLookup | None = None,
        workers: int = DEFAULT_WORKERS,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        self.cache = cache
        self.external_lookup = external_lookup
        self.workers = max(1, int(workers))
        self.buffer_size = max(64 * 1024, int(buffer_size))
        self._buffers = threading.local()  # one read buffer per worker thread, reused across files

    def known_hash(self, target: HashTarget, report: HashReport | None = None) -> str | None:
        """The hash of `target` from caches alone (no file reading), or None."""
        sha = self.cache.get(target.path, target.size, target.mtime_ns)
        if sha:
            if report is not None:
                report.from_cache += 1
            return sha
        sha = self._external(target)
        if sha:
            self.cache.put(target.path, target.size, target.mtime_ns, sha, target.inode, target.device)
            if report is not None:
                report.from_external += 1
            return sha
        sha = self.cache.find_moved(target.path, target.size, target.mtime_ns, target.inode, target.device)
        if sha and report is not None:
            report.from_moved += 1
        return sha

    def _external(self, target: HashTarget) -> str | None:
        if self.external_lookup is None:
            return None
        try:
            sha = self.external_lookup(target.path, target.webui_hash_title)
        except Exception:  # the host's cache is a bonus; its failure only costs a rehash
            log.warning("The external hash lookup failed for %s.", target.path, exc_info=True)
            return None
        return sha.lower() if is_sha256_hex(sha) else None

    def hash_all(
        self,
        targets: Iterable[HashTarget],
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> HashReport:
        """Hash every target (blocking). Finished hashes are kept even when cancelled."""
        started = time.monotonic()
        cancel = cancel or threading.Event()
        report = HashReport()
        items = list(targets)
        tracker = _ProgressTracker(len(items), sum(t.size for t in items), progress)

        to_read: list[HashTarget] = []
        for target in items:
            sha = self.known_hash(target, report)
            if sha:
                report.hashes[target.path] = sha
                tracker.file_done(size_not_read=target.size)
            else:
                to_read.append(target)

        # Biggest first: the pool finishes together instead of waiting on one late large file.
        to_read.sort(key=lambda t: t.size, reverse=True)
        last_save = time.monotonic()
        if to_read and not cancel.is_set():
            with ThreadPoolExecutor(max_workers=min(self.workers, len(to_read)), thread_name_prefix="mw-hash") as pool:
                futures = {pool.submit(self._read_one, t, tracker, cancel): t for t in to_read}
                for future in as_completed(futures):
                    target = futures[future]
                    if cancel.is_set():
                        # Files not started yet are dropped; running ones stop at their next chunk.
                        for pending in futures:
                            pending.cancel()
                    try:
                        sha = future.result()
                    except (HashCancelled, CancelledError):
                        continue
                    except OSError as exc:
                        report.errors[target.path] = messages.file_unreadable(target.path, exc)
                        tracker.file_done()
                        continue
                    if sha is None:
                        report.errors[target.path] = messages.file_changed_while_hashing(target.path)
                    else:
                        report.hashes[target.path] = sha
                        report.computed += 1
                        report.bytes_read += target.size
                    tracker.file_done()
                    # Save now and then, so a long first hash survives a crash or a closed WebUI.
                    if time.monotonic() - last_save > _SAVE_INTERVAL_S:
                        self._save()
                        last_save = time.monotonic()
        report.cancelled = cancel.is_set() and len(report.hashes) + len(report.errors) < len(items)
        self._save()
        report.seconds = time.monotonic() - started
        return report

    def _read_one(self, target: HashTarget, tracker: _ProgressTracker, cancel: threading.Event) -> str | None:
        if cancel.is_set():
            raise HashCancelled()
        buffer = getattr(self._buffers, "buffer", None)
        if buffer is None or len(buffer) != self.buffer_size:
            buffer = self._buffers.buffer = bytearray(self.buffer_size)
        sha = sha256_file(
            target.path,
            self.buffer_size,
            cancel,
            on_bytes=lambda n: tracker.add_bytes(n, target.path),
            buffer=buffer,
        )
        # Only cache what is still true: a file still being written must be hashed again later.
        st = os.stat(target.path)
        if st.st_size != target.size or st.st_mtime_ns != target.mtime_ns:
            return None
        self.cache.put(target.path, st.st_size, st.st_mtime_ns, sha, st.st_ino, st.st_dev)
        return sha

    def _save(self) -> None:
        try:
            self.cache.save()
        except OSError:
            log.warning("The hash cache could not be saved to %s.", self.cache.path, exc_info=True)

    def start(
        self,
        targets: Sequence[HashTarget],
        progress: ProgressCallback | None = None,
        on_done: Callable[[HashReport], None] | None = None,
    ) -> HashTask:
        """Hash in a background thread; returns a handle with progress, cancel() and wait().

        `on_done(report)` runs in that thread when hashing ends (also when cancelled).
        """
        return HashTask(self, targets, progress, on_done)


class HashTask:
    """A background hashing run. `progress` is a snapshot; `report` is set once `done`."""

    def __init__(
        self,
        hasher: Hasher,
        targets: Sequence[HashTarget],
        progress: ProgressCallback | None,
        on_done: Callable[[HashReport], None] | None = None,
    ) -> None:
        self._cancel = threading.Event()
        self._user_callback = progress
        self._on_done = on_done
        self._latest = HashProgress(0, len(targets), 0, sum(t.size for t in targets))
        self._latest_lock = threading.Lock()
        self.report: HashReport | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(hasher, list(targets)), name="mw-hash-task", daemon=True
        )
        self._thread.start()

    def _on_progress(self, state: HashProgress) -> None:
        with self._latest_lock:
            self._latest = state
        if self._user_callback is not None:
            self._user_callback(state)

    def _run(self, hasher: Hasher, targets: list[HashTarget]) -> None:
        try:
            self.report = hasher.hash_all(targets, self._on_progress, self._cancel)
            if self._on_done is not None:
                self._on_done(self.report)
        except BaseException as exc:  # kept for the UI; a background thread has nobody else to tell
            log.exception("Hashing stopped with an error.")
            self.error = exc

    @property
    def progress(self) -> HashProgress:
        with self._latest_lock:
            return self._latest

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> HashReport | None:
        self._thread.join(timeout)
        return self.report
