"""Match local files to Civitai by SHA256, remember the answers, and spot newer versions.

The Civitai calls are injected, so this module needs no HTTP client and tests need no server:
* `lookup(sha256_list) -> {sha256: version_dict_or_None}`: the bulk by-hash POST (≤100 SHA256s
  per request; Civitai silently leaves out hashes it does not know, so a hash missing from the
  answer counts as "not on Civitai");
* `model_versions(model_id) -> [version_dict_or_id, ...] | None` (optional): the model's versions in
  Civitai's order, for "update available"; None when Civitai no longer has the model (404), which
  is recorded once as "removed from Civitai". Without it, a `modelVersions` list inside the
  looked-up version (or its `model`) is used when the lookup provides one.

A failed lookup (network, rate limit) is never taken for "not on Civitai": the hashes of that
chunk stay unknown and are asked again next time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from model_workbench.civitai.coerce import parse_datetime

from . import messages
from .hash_cache import is_sha256_hex
from .match_store import CivitaiMatch, MatchStore
from .scan import SIDECAR_CIVITAI_INFO, SIDECAR_JSON, SIDECAR_PREVIEW, ModelRecord

log = logging.getLogger(__name__)

BULK_LOOKUP_LIMIT = 100  # Civitai answers 400 above this
BulkLookup = Callable[[list[str]], Mapping[str, Optional[Mapping[str, Any]]]]
ModelVersionsLookup = Callable[[int], Optional[Sequence[Any]]]

STATUS_UNHASHED = "unhashed"  # no SHA256 yet
STATUS_UNKNOWN = "unknown"  # hashed, Civitai not asked yet (or its answer expired)
STATUS_MATCHED = "matched"
STATUS_UPDATE_AVAILABLE = "update_available"
STATUS_NOT_ON_CIVITAI = "not_on_civitai"
STATUS_REMOVED = "removed"  # matched once, but Civitai no longer has the model


@dataclass
class MatchProgress:
    hashes_done: int
    hashes_total: int


@dataclass
class MatchReport:
    matched: dict[str, CivitaiMatch] = field(default_factory=dict)  # newly matched this run
    versions: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # raw answers, for sidecars
    not_found: list[str] = field(default_factory=list)  # newly marked "not on Civitai"
    removed: list[int] = field(default_factory=list)  # models newly found removed from Civitai
    skipped: int = 0  # already known and still fresh: not asked
    invalid: list[str] = field(default_factory=list)  # not a SHA256
    lookup_calls: int = 0
    updates_checked: int = 0
    error: str | None = None  # a sentence for the user when a lookup failed
    cancelled: bool = False


@dataclass
class SidecarNeed:
    """A matched model that lacks some sidecars the library can fill from Civitai."""

    record: ModelRecord
    match: CivitaiMatch
    missing: tuple[str, ...]  # of SIDECAR_PREVIEW, SIDECAR_JSON, SIDECAR_CIVITAI_INFO


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def parse_version(sha256: str, version: Mapping[str, Any], now: float) -> CivitaiMatch | None:
    """Turn a by-hash version object into a CivitaiMatch; None when ids are missing."""
    model = version.get("model") if isinstance(version.get("model"), Mapping) else {}
    version_id = _as_int(version.get("id"))
    model_id = _as_int(version.get("modelId"))
    if version_id is None or model_id is None:
        return None
    words = version.get("trainedWords") or []
    return CivitaiMatch(
        sha256=sha256,
        model_id=model_id,
        version_id=version_id,
        model_name=str(model.get("name") or ""),
        version_name=str(version.get("name") or ""),
        base_model=version.get("baseModel") or None,
        model_type=model.get("type") or None,
        trained_words=[str(w).strip() for w in words if isinstance(w, str) and w.strip()],
        matched_at=now,
    )


def is_restricted(version: Mapping[str, Any], now: float) -> bool:
    """Early Access (until a date still ahead, or ``availability`` says so) or paid (2026's ``paidAccess``)."""
    if str(version.get("availability") or "").lower() == "earlyaccess" or version.get("paidAccess"):
        return True
    ends = parse_datetime(version.get("earlyAccessEndsAt") or version.get("earlyAccessDeadline"))
    return ends is not None and ends.timestamp() > now


def newest_of(versions: Sequence[Any], skip_restricted: bool = False,
              now: float | None = None) -> tuple[int, str | None] | None:
    """The newest (version id, name) in a model's version list.

    Civitai lists a model's versions newest first (the creator can reorder, and the page shows
    that order too), so the first published entry is "the newest"; plain ids are accepted. With
    ``skip_restricted``, Early Access and paid versions do not count (an update one cannot download
    is no update).
    """
    moment = time.time() if now is None else now
    for entry in versions:
        if isinstance(entry, Mapping):
            status = entry.get("status")
            if status not in (None, "Published") or (skip_restricted and is_restricted(entry, moment)):
                continue
            version_id = _as_int(entry.get("id"))
            if version_id is not None:
                name = entry.get("name")
                return version_id, str(name) if name else None
        else:
            version_id = _as_int(entry)
            if version_id is not None:
                return version_id, None
    return None


def index_versions_by_sha256(versions: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Turn the bulk by-hash POST's answer (a list of versions) into `{sha256: version}`.

    Each version lists all its files with their hashes; every file's SHA256 points to the
    version, so whichever file the local copy is, its hash finds the version. Adapt a client
    with `lambda hashes: index_versions_by_sha256(client.versions_by_hashes(hashes))`.
    """
    index: dict[str, Mapping[str, Any]] = {}
    for version in versions or []:
        if not isinstance(version, Mapping):
            continue
        for file in version.get("files") or []:
            hashes = file.get("hashes") if isinstance(file, Mapping) else None
            digest = hashes.get("SHA256") if isinstance(hashes, Mapping) else None
            if isinstance(digest, str) and is_sha256_hex(digest.lower()):
                index.setdefault(digest.lower(), version)
    return index


def _embedded_versions(version: Mapping[str, Any]) -> Sequence[Any] | None:
    for holder in (version, version.get("model")):
        if isinstance(holder, Mapping) and isinstance(holder.get("modelVersions"), list) and holder["modelVersions"]:
            return holder["modelVersions"]
    return None


class CivitaiMatcher:
    """Asks Civitai about hashes it does not know yet, and keeps the answers in a MatchStore."""

    def __init__(
        self,
        store: MatchStore,
        lookup: BulkLookup,
        model_versions: ModelVersionsLookup | None = None,
        recheck_not_found_days: float = 7.0,
        recheck_updates_days: float = 1.0,
        chunk_size: int = BULK_LOOKUP_LIMIT,
        skip_early_access: bool = False,
    ) -> None:
        self.skip_early_access = skip_early_access
        self.store = store
        self.lookup = lookup
        self.model_versions = model_versions
        self.recheck_not_found_s = recheck_not_found_days * 86400.0
        self.recheck_updates_s = recheck_updates_days * 86400.0
        self.chunk_size = max(1, min(BULK_LOOKUP_LIMIT, int(chunk_size)))

    def needs_asking(self, sha256: str, force: bool = False) -> bool:
        if force:
            return True
        if self.store.get(sha256) is not None:
            return False
        since = self.store.not_found_since(sha256)
        return since is None or self.store.clock() - since >= self.recheck_not_found_s

    def match(
        self,
        hashes: Iterable[str],
        force: bool = False,
        cancel: threading.Event | None = None,
        progress: Callable[[MatchProgress], None] | None = None,
    ) -> MatchReport:
        """Look up every hash not already answered (all of them with `force`), then check updates."""
        report = MatchReport()
        wanted: list[str] = []
        for raw in hashes:
            sha = str(raw).strip().lower()
            if not is_sha256_hex(sha):
                report.invalid.append(str(raw))
            elif sha not in wanted:
                wanted.append(sha)
        to_ask = [sha for sha in wanted if self.needs_asking(sha, force)]
        report.skipped = len(wanted) - len(to_ask)
        embedded: dict[int, Sequence[Any]] = {}

        done = 0
        for start in range(0, len(to_ask), self.chunk_size):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            chunk = to_ask[start : start + self.chunk_size]
            try:
                answer = self.lookup(list(chunk))
                report.lookup_calls += 1
            except Exception as exc:  # the client's errors already carry a user-facing sentence
                log.warning("The Civitai by-hash lookup failed.", exc_info=True)
                report.error = messages.civitai_lookup_failed(len(to_ask) - start, exc)
                break
            self._record_answer(chunk, answer or {}, report, embedded)
            self._save()
            done += len(chunk)
            if progress is not None:
                progress(MatchProgress(done, len(to_ask)))

        if not report.cancelled and report.error is None:
            self._check_updates(wanted, report, embedded, force)
        self._save()
        return report

    def _record_answer(
        self,
        chunk: list[str],
        answer: Mapping[str, Any],
        report: MatchReport,
        embedded: dict[int, Sequence[Any]],
    ) -> None:
        by_hash = {str(k).lower(): v for k, v in answer.items()}
        now = self.store.clock()
        for sha in chunk:
            version = by_hash.get(sha)
            if isinstance(version, Mapping) and version:
                match = parse_version(sha, version, now)
                if match is None:
                    log.warning("Civitai answered for %s without model or version id; ignored.", sha)
                    continue
                self.store.put(match)
                report.matched[sha] = match
                report.versions[sha] = version
                versions = _embedded_versions(version)
                if versions:
                    embedded[match.model_id] = versions
            else:
                self.store.mark_not_found(sha, now)
                report.not_found.append(sha)

    def _check_updates(
        self, wanted: list[str], report: MatchReport, embedded: dict[int, Sequence[Any]], force: bool
    ) -> None:
        now = self.store.clock()
        model_ids: list[int] = []
        for sha in wanted:
            match = self.store.get(sha)
            if match is None or match.model_id in model_ids:
                continue
            removed = self.store.removed_since(match.model_id)
            if removed is not None and not force and now - removed < self.recheck_not_found_s:
                continue  # said once; asked again only when that answer is old
            newest = self.store.newest(match.model_id)
            if match.model_id in embedded or force or newest is None or now - newest.checked_at >= self.recheck_updates_s:
                model_ids.append(match.model_id)
        for model_id in model_ids:
            versions = embedded.get(model_id)
            if versions is None and self.model_versions is not None:
                try:
                    versions = self.model_versions(model_id)
                except Exception:  # an update check is optional; the match itself stands
                    log.warning("Checking model %s for newer versions failed.", model_id, exc_info=True)
                    continue
                if versions is None:  # 404: the model is gone from Civitai
                    if self.store.removed_since(model_id) is None:
                        report.removed.append(model_id)
                    self.store.mark_removed(model_id, now)
                    continue
                self.store.clear_removed(model_id)
            found = newest_of(versions or [], self.skip_early_access, now)
            if found is not None:
                self.store.set_newest(model_id, found[0], found[1])
                report.updates_checked += 1

    def _save(self) -> None:
        try:
            self.store.save()
        except OSError:
            log.warning("The Civitai match store could not be saved to %s.", self.store.path, exc_info=True)

    def status(self, sha256: str | None) -> str:
        """One of the STATUS_* values for a file's hash (None: not hashed yet)."""
        return match_status(self.store, sha256, self.recheck_not_found_s / 86400.0)


def match_status(store: MatchStore, sha256: str | None, recheck_not_found_days: float = 7.0) -> str:
    """One of the STATUS_* values for a file's hash, from the store alone (no lookup)."""
    if not sha256:
        return STATUS_UNHASHED
    match = store.get(sha256)
    if match is not None:
        if store.removed_since(match.model_id) is not None:
            return STATUS_REMOVED
        return STATUS_UPDATE_AVAILABLE if match.update_available else STATUS_MATCHED
    since = store.not_found_since(sha256)
    if since is not None and store.clock() - since < recheck_not_found_days * 86400.0:
        return STATUS_NOT_ON_CIVITAI
    return STATUS_UNKNOWN


def sidecar_needs(records: Iterable[ModelRecord], store: MatchStore) -> list[SidecarNeed]:
    """Matched models that lack a preview, a `.civitai.info` or a `.json` sidecar.

    The UI offers to fill these (sidecars.py writes them, never over a file the user has).
    """
    needs = []
    for record in records:
        if not record.sha256:
            continue
        match = store.get(record.sha256)
        if match is None:
            continue
        missing = tuple(
            s for s in record.missing_sidecars if s in (SIDECAR_PREVIEW, SIDECAR_CIVITAI_INFO, SIDECAR_JSON)
        )
        if missing:
            needs.append(SidecarNeed(record, match, missing))
    return needs


@dataclass
class InstalledIndex:
    """Which Civitai models and versions are on disk: badges and "hide installed" in the Civitai tab."""

    by_version: dict[int, list[str]] = field(default_factory=dict)  # version id → local paths
    by_model: dict[int, list[str]] = field(default_factory=dict)  # model id → local paths

    def has_version(self, version_id: int) -> bool:
        return int(version_id) in self.by_version

    def has_model(self, model_id: int) -> bool:
        return int(model_id) in self.by_model


def installed_index(records: Iterable[ModelRecord], store: MatchStore) -> InstalledIndex:
    index = InstalledIndex()
    for record in records:
        match = store.get(record.sha256) if record.sha256 else None
        if match is not None:
            index.by_version.setdefault(match.version_id, []).append(record.path)
            index.by_model.setdefault(match.model_id, []).append(record.path)
    return index
