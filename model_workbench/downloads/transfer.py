"""One file from Civitai to disk: resolve → stream (1 or N ranges) → hash while streaming → verify → rename.

The rules (see issue 3 and docs/civitai.md):

- bytes go to ``<name>.part`` with a ``<name>.part.json`` state beside it; nothing else is written
  until the file is complete, the size matches and the SHA256 equals ``files[].hashes.SHA256``;
- every attempt asks Civitai for a *fresh* signed URL (they expire) and resumes with ``Range``;
  416 → start over; 200 to a Range request → truncate and start over cleanly;
- an HTML/JSON body is never written as a model; a broken connection or a stall keeps the part;
- a write error (disk full) keeps the part and says so; an existing file is reused when its hash
  matches and never overwritten when it does not.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from model_workbench.civitai.errors import CivitaiError, RateLimitedError, UnavailableError
from model_workbench.civitai.responses import looks_like_html

from . import messages as msg
from .errors import Cancelled, DownloadError, RestartFromZero, TransientError
from .filenames import filename_from_content_disposition, numbered_name, sanitize_filename
from .hashing import OrderedHasher
from .part_file import PartFile
from .pipeline import Pipeline
from .state import PartState, Segment, part_path, remove_partial, state_path
from .streaming import StreamContext, body_chunks, content_length, raw_header

PARALLEL_HASH = True  # hash on its own thread when the stream is in order
COALESCE_BYTES = 256 << 10  # write and hash in 256 KiB blocks: fewer syscalls than 64 KiB network reads
ERROR_BODY_PREFIXES = (b"<!doctype", b"<html", b"<?xml", b'{"error"', b"{\"message\"")


@dataclass
class DownloadRequest:
    """What to download: ``url`` is ``files[].downloadUrl`` (or the version's ``downloadUrl``), as returned."""

    url: str
    dest_dir: Path
    filename: str | None = None  # files[].name; Content-Disposition is used when absent
    sha256: str | None = None  # files[].hashes.SHA256
    version_id: int | None = None
    file_id: int | None = None
    title: str = ""
    context: Any = field(default=None, repr=False, compare=False)  # e.g. the ModelVersion, for sidecars
    # The source that resolves and streams this file (``resolve_download(url)`` and ``.http``); None: the
    # queue's own client. A Hub file carries its Hub source, so both sources share one queue.
    source: Any = field(default=None, repr=False, compare=False)


@dataclass
class DownloadOptions:
    connections: int = 1  # >1: parallel byte ranges when the server offers Accept-Ranges + Content-Length
    min_segment_bytes: int = 16 << 20
    max_attempts: int = 5
    backoff: float = 1.0
    backoff_cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    connect_timeout: float = 20.0
    read_timeout: float = 60.0  # a stall longer than this breaks the attempt (the part is kept)
    state_every_bytes: int = 32 << 20
    progress_interval: float = 0.25
    on_conflict: str = "error"  # "error": never touch an existing different file; "rename": use "name (2).ext"


@dataclass
class Progress:
    phase: str  # "resolving" | "downloading" | "verifying"
    bytes: int
    total: int | None
    speed: float  # bytes/s over the last few seconds
    eta: float | None  # seconds


@dataclass
class DownloadResult:
    path: Path
    sha256: str
    size: int
    reused: bool = False
    verified: bool = True  # False: Civitai gave no SHA256, so the bytes were never compared with anything


def source_name(client: Any) -> str:
    """The name the engine's sentences give a file's source: a request's own source names itself
    (``source_name``); the queue's own client is Civitai's."""
    return getattr(client, "source_name", "Civitai")


def file_sha256(path: Path, cancel: threading.Event | None = None) -> str:
    import hashlib

    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 << 20):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            sha.update(block)
    return sha.hexdigest().upper()


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class _Meter:
    """Speed over a sliding window and ETA, for progress events."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def speed(self, now: float, done: int) -> float:
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        t0, b0 = self.samples[0]
        return (done - b0) / (now - t0) if now > t0 else 0.0


class Transfer:
    """Runs one ``DownloadRequest`` to completion (``run``) on the calling thread."""

    def __init__(self, client: Any, request: DownloadRequest, options: DownloadOptions | None = None, *,
                 progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
                 part_file_factory: Callable[[Path], PartFile] = PartFile) -> None:
        self.client = client  # a CivitaiClient or a request's own source: resolve_download() and .http
        self.source = source_name(client)
        self.request = request
        self.options = options or DownloadOptions()
        self.progress_cb = progress
        self.cancel = cancel or threading.Event()
        self.part_file_factory = part_file_factory
        self.final: Path | None = None
        self.state: PartState | None = None
        self.hasher: OrderedHasher | None = None
        self.part: PartFile | None = None
        self._meter = _Meter()
        self._last_emit = 0.0
        self._since_save = 0
        self._lock = threading.Lock()
        self._stop_workers = threading.Event()
        self._emit_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.final.name if self.final else (self.request.filename or self.request.title or "the file")

    def run(self) -> DownloadResult:
        Path(self.request.dest_dir).mkdir(parents=True, exist_ok=True)
        if self.request.filename:
            reused = self._choose_final(sanitize_filename(self.request.filename, self._fallback_name()))
            if reused:
                return reused
        attempts, restarts = 0, 0
        try:
            while True:
                try:
                    return self._attempt()
                except TransientError as exc:
                    attempts += 1
                    if attempts >= self.options.max_attempts:
                        exc.error.part_kept = self._part_exists()
                        raise exc.error from None
                    self.options.sleep(min(self.options.backoff_cap, self.options.backoff * 2 ** (attempts - 1)))
                except DownloadError as exc:
                    if exc.kind == "error-body" and not self._bytes_done():
                        self._discard_partial()  # an empty part of an error page is worth nothing
                        exc.part_kept = False
                    raise
                except RestartFromZero:
                    restarts += 1
                    self._discard_partial()
                    if restarts > 3:
                        raise DownloadError(self._storage_status("range"), kind="range", retryable=True) from None
        finally:
            self._close_part()

    # -- steps ----------------------------------------------------------------------------------
    def _fallback_name(self) -> str:
        return f"civitai-{self.request.version_id or 'download'}.safetensors"

    def _choose_final(self, name: str) -> DownloadResult | None:
        """Pick the destination; reuse an existing file with the same hash, never overwrite a different one."""
        dest = Path(self.request.dest_dir)
        candidate = dest / name
        n = 1
        while candidate.exists():
            expected = (self.request.sha256 or "").upper()
            if expected:
                self._emit("verifying", force=True)
                if file_sha256(candidate, self.cancel) == expected:
                    self.final = candidate
                    return DownloadResult(candidate, expected, candidate.stat().st_size, reused=True)
            if self.options.on_conflict != "rename":
                template = msg.EXISTS_DIFFERENT if expected else msg.EXISTS_UNVERIFIED
                raise DownloadError(template.format(name=name, folder=dest, source=self.source), kind="exists",
                                    retryable=True)
            n += 1
            candidate = dest / numbered_name(name, n)
        self.final = candidate
        return None

    def _attempt(self) -> DownloadResult:
        self._check_cancel()
        self._stop_workers.clear()  # set only while a failed segmented attempt winds down
        if self.final is not None and self.state is None:
            self._load_state()
        if self.state is not None and self._part_complete():
            return self._finish()
        self._emit("resolving", force=True)
        try:
            resolved = self.client.resolve_download(self.request.url)
        except CivitaiError as exc:
            kind = type(exc).__name__
            error = DownloadError(str(exc), kind=kind, retryable=isinstance(exc, (UnavailableError, RateLimitedError)),
                                  part_kept=self._part_exists())
            raise error from None
        self._check_cancel()
        if self.state is None:
            return self._fresh(resolved.url)
        if self.state.segmented:
            self._run_segments(resolved.url)
        else:
            self._resume_single(resolved.url)
        return self._finish()

    def _fresh(self, url: str) -> DownloadResult:
        with self._open(url, 0, None) as response:
            self._check_response(response, expect_range_from=None)
            if self.final is None:
                cd_name = filename_from_content_disposition(raw_header(response, b"content-disposition"))
                reused = self._choose_final(sanitize_filename(cd_name or "", self._fallback_name()))
                if reused:
                    return reused
                self._load_state()
                if self.state is not None:  # a part of this very file from an earlier run: resume it
                    response.close()
                    if self.state.segmented:
                        self._run_segments(url)
                    else:
                        self._resume_single(url)
                    return self._finish()
            total = content_length(response)
            assert self.final is not None
            self.state = PartState(url=self.request.url, name=self.final.name, sha256=self.request.sha256,
                                   total=total, version_id=self.request.version_id, file_id=self.request.file_id,
                                   segments=[Segment(0, total)])
            self._open_part(truncate=True)
            self.hasher = OrderedHasher(self._read_at)
            if self._can_segment(response, total):
                assert total is not None
                self.state.segments = _split(total, self.options.connections, self.options.min_segment_bytes)
                self._save_state()
                response.close()  # its body is fetched again as ranges
            else:
                self._save_state()
                self._stream(response, self.state.segments[0])
                return self._finish()
        self._run_segments(url)
        return self._finish()

    def _resume_single(self, url: str) -> None:
        assert self.state is not None
        segment = self.state.segments[0]
        self._open_part(truncate=False)
        on_disk = self.part.size() if self.part else 0
        segment.done = min(on_disk, segment.end) if segment.end is not None else on_disk
        if self.part and on_disk > segment.done:
            self.part.truncate(segment.done)
        if self.hasher is None or self.hasher.position != segment.done:
            self.hasher = OrderedHasher(self._read_at)
            self.hasher.mark_written(0, segment.done)  # re-hash what is on disk once, then continue
        with self._open(url, segment.done, None) as response:
            if response.status_code == 200 and segment.done > 0:
                # The server ignored our Range: start over cleanly from this very response (checked
                # first, so that an error page never costs us the bytes we already have).
                self._check_response(response, expect_range_from=None)
                self.part.truncate(0)  # type: ignore[union-attr]
                segment.done = 0
                self.hasher = OrderedHasher(self._read_at)
                total = content_length(response)
                self.state.total = segment.end = total
            else:
                self._check_response(response, expect_range_from=segment.done or None)
                if self.state.total is None:
                    self.state.total = segment.end = content_length(response)
            self._save_state()
            self._stream(response, segment)

    # -- streaming ------------------------------------------------------------------------------
    def _open(self, url: str, start: int, end: int | None) -> Any:
        headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
        if start > 0 or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        timeout = httpx.Timeout(self.options.read_timeout, connect=self.options.connect_timeout)
        return StreamContext(self.client.http, url, headers, timeout, self.name, self.source)

    def _check_response(self, response: httpx.Response, expect_range_from: int | None) -> None:
        status = response.status_code
        if status == 416:
            raise RestartFromZero()
        if status >= 400 or status not in (200, 206):
            raise TransientError(DownloadError(self._storage_status(status), kind="storage-status", retryable=True))
        ctype = response.headers.get("Content-Type", "").lower()
        if looks_like_html(ctype, b"") or ctype.startswith(("application/json", "application/xml", "text/xml")):
            what = "a web page" if "html" in ctype else "an error message"
            raise DownloadError(self._error_body(what, self.name), kind="error-body", retryable=True, part_kept=self._part_exists())
        if expect_range_from is not None:
            match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
            if status != 206 or not match or int(match.group(1)) != expect_range_from:
                raise RestartFromZero()

    def _can_segment(self, response: httpx.Response, total: int | None) -> bool:
        return (self.options.connections > 1 and total is not None
                and response.headers.get("Accept-Ranges", "").lower() == "bytes"
                and total >= 2 * self.options.min_segment_bytes)

    def _stream(self, response: httpx.Response, segment: Segment) -> None:
        """Copy the body into the part at the segment's position, hashing in order as it lands.

        The network is read on this thread while a write-behind thread writes and hashes (both release
        the GIL), so a single stream keeps up with curl instead of alternating read/write/hash.
        """
        assert self.part is not None and self.hasher is not None
        assert self.state is not None
        if PARALLEL_HASH and not self.state.segmented and self.hasher.position == segment.position:
            # One in-order stream: write and hash on two threads at once (hashlib and os.pwrite
            # both release the GIL), while this thread keeps reading the socket.
            writer = Pipeline([lambda offset, data: self._write_chunk(segment, offset, data, hash_it=False),
                                self.hasher.feed])
        else:
            # Ranges land out of order: hash only after the bytes are on disk (the hasher may read them back).
            writer = Pipeline([lambda offset, data: self._write_chunk(segment, offset, data)])
        pending: list[bytes] = []
        pending_len = 0
        pending_at = segment.position
        error: TransientError | None = None

        def flush() -> None:
            nonlocal pending, pending_len, pending_at
            if pending:
                writer.put(pending_at, pending[0] if len(pending) == 1 else b"".join(pending))
                pending_at += pending_len
                pending, pending_len = [], 0

        try:
            for chunk in body_chunks(response, self.options.read_timeout):
                if self.cancel.is_set() or self._stop_workers.is_set():
                    raise Cancelled()
                if segment.end is not None:
                    chunk = chunk[: segment.end - pending_at - pending_len]
                    if not chunk:
                        break
                if pending_at == 0 and not pending and chunk[:16].lstrip().lower().startswith(ERROR_BODY_PREFIXES):
                    raise DownloadError(self._error_body("an error page", self.name), kind="error-body")
                pending.append(chunk)
                pending_len += len(chunk)
                if pending_len >= COALESCE_BYTES:
                    flush()
                self._emit("downloading")
            flush()
        except httpx.TimeoutException:
            error = TransientError(DownloadError(msg.STALLED.format(name=self.name), kind="stalled"))
        except httpx.TransportError:
            error = TransientError(self._connection_lost())
        except BaseException:  # cancelled, an error page or a write error: stop after the queued writes
            writer.close()
            self._save_state(quiet=True)
            raise
        if error is not None and pending:
            try:
                flush()  # keep every byte received before the break
            except BaseException:  # noqa: BLE001 - the write error is returned by close() below
                pass
        write_error = writer.close()
        self._save_state(quiet=True)
        if write_error is not None:
            raise write_error
        if error is not None:
            error.error = self._connection_lost() if error.error.kind == "connection" else error.error
            raise error
        if segment.end is not None and segment.position < segment.end:
            raise TransientError(self._connection_lost())

    def _write_chunk(self, segment: Segment, offset: int, data: bytes, hash_it: bool = True) -> None:
        assert self.part is not None and self.hasher is not None
        try:
            self.part.write_at(offset, data)
        except OSError as exc:
            self._save_state(quiet=True)
            raise DownloadError(msg.WRITE_FAILED.format(name=self.name, folder=self.final.parent if self.final else "",
                                                        reason=exc.strerror or str(exc)),
                                kind="write", retryable=True, part_kept=True) from None
        if hash_it:
            self.hasher.feed(offset, data)
        with self._lock:
            segment.done += len(data)
            self._since_save += len(data)
            save = self._since_save >= self.options.state_every_bytes
        if save:
            self._save_state(quiet=True)

    def _connection_lost(self) -> DownloadError:
        done = sum(s.done for s in self.state.segments) if self.state else 0
        total = self.state.total if self.state else None
        return DownloadError(msg.CONNECTION_LOST.format(name=self.name, done=_human(done), total=_human(total)),
                             kind="connection", retryable=True, part_kept=True)

    def _run_segments(self, url: str) -> None:
        assert self.state is not None
        self._open_part(truncate=False)
        if self.hasher is None:
            self.hasher = OrderedHasher(self._read_at)
            for seg in self.state.segments:
                self.hasher.mark_written(seg.start, seg.position)  # resume: hash what is on disk, once
        self._stop_workers.clear()
        errors: list[BaseException] = []

        def work(segment: Segment) -> None:
            try:
                while not segment.finished and not self._stop_workers.is_set():
                    with self._open(url, segment.position, segment.end) as response:
                        if response.status_code == 200:
                            raise RestartFromZero()  # the server ignored Range: segments cannot work
                        self._check_response(response, expect_range_from=segment.position)
                        self._stream(response, segment)
            except BaseException as exc:  # noqa: BLE001 - handed to the coordinating thread
                errors.append(exc)
                self._stop_workers.set()

        threads = [threading.Thread(target=work, args=(s,), daemon=True, name=f"mw-seg-{i}")
                   for i, s in enumerate(self.state.segments) if not s.finished]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=self.options.progress_interval)
            self._emit("downloading")
            if self.cancel.is_set():
                self._stop_workers.set()
        self._save_state(quiet=True)
        if errors:
            first = next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
            if isinstance(first, RestartFromZero):
                # Ranges are not honoured: fall back to one stream for this file.
                self.options = _replace_connections(self.options, 1)
            raise first

    # -- finishing ------------------------------------------------------------------------------
    def _part_complete(self) -> bool:
        assert self.state is not None
        if self.state.total is None or not part_path(self.final).exists():  # type: ignore[arg-type]
            return False
        if self.state.segmented:
            return all(s.finished for s in self.state.segments)
        return part_path(self.final).stat().st_size >= self.state.total  # type: ignore[arg-type]

    def _finish(self) -> DownloadResult:
        assert self.final is not None and self.state is not None
        self._open_part(truncate=False)
        assert self.part is not None
        if self.hasher is None:
            self.hasher = OrderedHasher(self._read_at)
            for seg in self.state.segments:
                seg.done = seg.done if self.state.segmented else self.part.size() - seg.start
                self.hasher.mark_written(seg.start, seg.position)
        self._emit("verifying", force=True)
        size = self.part.size()
        total = self.state.total
        if total is not None and size != total:
            if size > total:
                raise RestartFromZero()
            raise TransientError(self._connection_lost())
        if self.hasher.position != size:
            self.hasher.mark_written(0, size)
        digest = self.hasher.hexdigest()
        expected = (self.request.sha256 or "").upper()
        if expected and digest != expected:
            self._discard_partial()
            raise DownloadError(msg.HASH_MISMATCH.format(name=self.final.name, source=self.source), kind="hash",
                                retryable=True)
        head = self.part.read_at(0, 64).lstrip().lower()
        if not expected and head.startswith(ERROR_BODY_PREFIXES):
            self._discard_partial()
            raise DownloadError(self._error_body("an error page", self.final.name), kind="error-body")
        self._close_part()
        return self._install(digest, size)

    def _install(self, digest: str, size: int) -> DownloadResult:
        assert self.final is not None
        part = part_path(self.final)
        if self.final.exists():
            if file_sha256(self.final, self.cancel) == digest:
                remove_partial(self.final)
                return DownloadResult(self.final, digest, size, reused=True)
            raise DownloadError(msg.EXISTS_DIFFERENT.format(name=self.final.name, folder=self.final.parent),
                                kind="exists", retryable=True, part_kept=True)
        try:
            os.link(part, self.final)  # fails instead of overwriting if the name appeared meanwhile
            os.unlink(part)
        except FileExistsError:
            raise DownloadError(msg.EXISTS_DIFFERENT.format(name=self.final.name, folder=self.final.parent),
                                kind="exists", retryable=True, part_kept=True) from None
        except OSError:
            os.replace(part, self.final)  # file systems without hard links (FAT, some network shares)
        try:
            state_path(self.final).unlink()
        except FileNotFoundError:
            pass
        return DownloadResult(self.final, digest, size, verified=bool(self.request.sha256))

    # -- helpers --------------------------------------------------------------------------------
    def _error_body(self, what: str, name: str) -> str:
        hint = msg.ERROR_BODY_HINT.format(source=self.source)
        return msg.ERROR_BODY.format(source=self.source, what=what, name=name, hint=hint)

    def _storage_status(self, status: object) -> str:
        return msg.STORAGE_STATUS.format(source=self.source, name=self.name, status=status)

    def _load_state(self) -> None:
        assert self.final is not None
        state = PartState.load(self.final)
        part = part_path(self.final)
        if state is None or not part.exists() or state.url != self.request.url or not state.segments or (
                self.request.sha256 and (state.sha256 or "").upper() != self.request.sha256.upper()):
            remove_partial(self.final)  # a stale or foreign part: never mix bytes of two files
            self.state = None
            return
        self.state = state

    def _open_part(self, truncate: bool) -> None:
        assert self.final is not None
        if self.part is None:
            try:
                self.part = self.part_file_factory(part_path(self.final))
            except OSError as exc:
                raise DownloadError(msg.WRITE_FAILED.format(name=self.final.name, folder=self.final.parent,
                                                            reason=exc.strerror or str(exc)),
                                    kind="write", retryable=True, part_kept=self._part_exists()) from None
        if truncate:
            self.part.truncate(0)

    def _close_part(self) -> None:
        if self.part is not None:
            self.part.close()
            self.part = None

    def _read_at(self, offset: int, size: int) -> bytes:
        assert self.part is not None
        return self.part.read_at(offset, size)

    def _bytes_done(self) -> int:
        return sum(s.done for s in self.state.segments) if self.state else 0

    def _part_exists(self) -> bool:
        return self.final is not None and part_path(self.final).exists()

    def _discard_partial(self) -> None:
        self._close_part()
        if self.final is not None:
            remove_partial(self.final)
        self.state = None
        self.hasher = None

    def _save_state(self, quiet: bool = False) -> None:
        if self.state is None or self.final is None:
            return
        with self._lock:
            self._since_save = 0
        try:
            self.state.save(self.final)
        except OSError:
            if not quiet:
                raise

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def _emit(self, phase: str, force: bool = False) -> None:
        if self.progress_cb is None:
            return
        now = time.monotonic()
        if not force and now - self._last_emit < self.options.progress_interval:
            return
        # Segment threads all report: one event at a time, and none at all while another is being sent.
        if not self._emit_lock.acquire(blocking=force):
            return
        try:
            self._emit_locked(phase, now)
        finally:
            self._emit_lock.release()

    def _emit_locked(self, phase: str, now: float) -> None:
        self._last_emit = now
        done = sum(s.done for s in self.state.segments) if self.state else 0
        total = self.state.total if self.state else None
        speed = self._meter.speed(now, done)
        eta = (total - done) / speed if total is not None and speed > 0 else None
        self.progress_cb(Progress(phase, done, total, speed, eta))


def _split(total: int, connections: int, min_bytes: int) -> list[Segment]:
    count = max(1, min(connections, total // max(1, min_bytes)))
    size = total // count
    bounds = [i * size for i in range(count)] + [total]
    return [Segment(bounds[i], bounds[i + 1]) for i in range(count)]


def _replace_connections(options: DownloadOptions, connections: int) -> DownloadOptions:
    from dataclasses import replace

    return replace(options, connections=connections)
