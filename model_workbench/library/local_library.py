"""The local library as the UI uses it: one object that scans, hashes and matches.

It owns three small JSON files in `data_dir`: `hashes.json` (SHA256 cache), `headers.json`
(base model and other header info) and `civitai-matches.json` (what Civitai said). The model
folders come from the host each scan, because WebUI's folder flags and settings can change.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

from . import messages
from .hash_cache import HashCache
from .hashing import DEFAULT_WORKERS, ExternalHashLookup, Hasher, HashReport, HashTask, ProgressCallback
from .header_cache import HeaderInfoCache
from .hub_record import read_hub_record
from .kinds import ModelKind
from .match_store import DEFAULT_CIVITAI_BASE_URL, MatchStore
from .matching import (
    STATUS_REMOVED,
    BulkLookup,
    CivitaiMatcher,
    InstalledIndex,
    MatchProgress,
    MatchReport,
    ModelVersionsLookup,
    SidecarNeed,
    installed_index,
    match_status,
    sidecar_needs,
)
from .scan import SOURCE_CIVITAI, LibraryScanner, ModelRecord, ScanResult

FolderMap = Mapping[Union[ModelKind, str], Sequence[str]]

HASH_CACHE_FILE = "hashes.json"
HEADER_CACHE_FILE = "headers.json"
MATCH_STORE_FILE = "civitai-matches.json"


class LocalLibrary:
    """Scan → hash (background) → match, with every answer cached on disk in `data_dir`."""

    def __init__(
        self,
        data_dir: str,
        folders: FolderMap | Callable[[], FolderMap],
        external_hash_lookup: ExternalHashLookup | None = None,
        include_hidden: bool = False,
        hash_workers: int = DEFAULT_WORKERS,
        recheck_not_found_days: float = 7.0,
        recheck_updates_days: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = data_dir
        self._folders = folders
        self.hash_cache = HashCache(os.path.join(data_dir, HASH_CACHE_FILE), clock)
        self.header_cache = HeaderInfoCache(os.path.join(data_dir, HEADER_CACHE_FILE))
        self.match_store = MatchStore(os.path.join(data_dir, MATCH_STORE_FILE), clock)
        self.scanner = LibraryScanner(self.header_cache, include_hidden)
        self.hasher = Hasher(self.hash_cache, external_hash_lookup, hash_workers)
        self.forget_missing_after_days = 30.0
        self.recheck_not_found_days = recheck_not_found_days
        self.recheck_updates_days = recheck_updates_days
        self._lock = threading.Lock()
        self._last_scan: ScanResult | None = None

    # -- scanning --------------------------------------------------------------------------
    def folders(self) -> FolderMap:
        return self._folders() if callable(self._folders) else self._folders

    def scan(self) -> ScanResult:
        """List every model and attach every hash known without reading a file."""
        result = self.scanner.scan(self.folders())
        for record in result.records:
            record.sha256 = self.hasher.known_hash(record)
        # Vanished entries are kept a month: long enough to recognise a moved file at a later scan.
        self.hash_cache.prune_missing(self.forget_missing_after_days)
        try:
            self.hash_cache.save()  # hashes taken from WebUI's cache or recognised moves
        except OSError as exc:
            result.errors.append(messages.cache_not_saved(self.hash_cache.path, exc))
        with self._lock:
            self._last_scan = result
        return result

    @property
    def records(self) -> list[ModelRecord]:
        """The records of the last scan (scanning first if there was none)."""
        with self._lock:
            last = self._last_scan
        return (last or self.scan()).records

    def unhashed(self) -> list[ModelRecord]:
        return [r for r in self.records if not r.sha256]

    # -- hashing ---------------------------------------------------------------------------
    def start_hashing(
        self, records: Iterable[ModelRecord] | None = None, progress: ProgressCallback | None = None
    ) -> HashTask:
        """Hash the given records (default: every unhashed one) in the background."""
        targets = list(records) if records is not None else self.unhashed()
        by_path = {r.path: r for r in targets}

        def attach(report: HashReport) -> None:
            for path, sha in report.hashes.items():
                if path in by_path:
                    by_path[path].sha256 = sha
            # A scan may have replaced the records while hashing ran: give the new ones their hashes too.
            with self._lock:
                current = self._last_scan.records if self._last_scan is not None else []
            for record in current:
                hashed = by_path.get(record.path)
                if (
                    not record.sha256
                    and record.path in report.hashes
                    and hashed is not None
                    and (hashed.size, hashed.mtime_ns) == (record.size, record.mtime_ns)
                ):
                    record.sha256 = report.hashes[record.path]

        return self.hasher.start(targets, progress, on_done=attach)

    # -- matching --------------------------------------------------------------------------
    def matcher(self, lookup: BulkLookup, model_versions: ModelVersionsLookup | None = None,
                skip_early_access: bool = False) -> CivitaiMatcher:
        return CivitaiMatcher(
            self.match_store,
            lookup,
            model_versions,
            recheck_not_found_days=self.recheck_not_found_days,
            recheck_updates_days=self.recheck_updates_days,
            skip_early_access=skip_early_access,
        )

    def match(
        self,
        lookup: BulkLookup,
        model_versions: ModelVersionsLookup | None = None,
        force: bool = False,
        cancel: threading.Event | None = None,
        progress: Callable[[MatchProgress], None] | None = None,
        skip_early_access: bool = False,
    ) -> MatchReport:
        """Ask Civitai about every hashed record it has not answered for yet."""
        hashes = [r.sha256 for r in self.records if r.sha256]
        matcher = self.matcher(lookup, model_versions, skip_early_access)
        return matcher.match(hashes, force=force, cancel=cancel, progress=progress)

    def status(self, record: ModelRecord) -> str:
        """One of matching.STATUS_* for this record."""
        return match_status(self.match_store, record.sha256, self.recheck_not_found_days)

    def sidecar_needs(self) -> list[SidecarNeed]:
        return sidecar_needs(self.records, self.match_store)

    def installed_index(self) -> InstalledIndex:
        return installed_index(self.records, self.match_store)

    def rows(self, civitai_base_url: str = DEFAULT_CIVITAI_BASE_URL) -> list[dict[str, Any]]:
        """One JSON-friendly dict per model for the library table: file facts, status, Civitai match."""
        rows = []
        for record in self.records:
            row = record.to_dict()
            row["status"] = self.status(record)
            match = self.match_store.get(record.sha256) if record.sha256 else None
            row["civitai"] = match.to_dict() if match else None
            # A model removed from Civitai has no page to open.
            row["civitai_url"] = match.url(civitai_base_url) if match and row["status"] != STATUS_REMOVED else None
            if record.has_hf_info:  # the repo, commit and path it was installed from (no endpoint, no token)
                hub = read_hub_record(record.path)
                row["hub"] = hub.to_dict() if hub else None
            else:
                row["hub"] = None
            if not row["source"] and match is not None:
                row["source"] = SOURCE_CIVITAI  # identified on Civitai by its hash, though installed by hand
            rows.append(row)
        return rows
