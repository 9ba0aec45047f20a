"""What Civitai said about each local file, remembered by SHA256 in a small JSON file.

Keyed by hash, not by path: a renamed or moved model keeps its match, and two copies of one
model share it. Three tables:
* matches: sha256 → the version it is (model/version ids and names, base model, newest version);
* not_found: sha256 → when Civitai last said it does not know the file, so the next scans do
  not ask again until that answer is old (see CivitaiMatcher's recheck_not_found_days);
* newest: model id → (newest version id and name, when checked), shared by all its files;
* removed: model id → when Civitai answered 404 for the model (deleted or unpublished), so it is
  shown as "removed from Civitai" and not asked again on every scan.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

from .jsonfile import load_json_object, write_json_atomic

_FORMAT_VERSION = 1
DEFAULT_CIVITAI_BASE_URL = "https://civitai.com"


@dataclass
class CivitaiMatch:
    sha256: str
    model_id: int
    version_id: int
    model_name: str = ""
    version_name: str = ""
    base_model: str | None = None
    model_type: str | None = None  # Civitai's type: "LORA", "Checkpoint", "TextualInversion"...
    trained_words: list[str] = field(default_factory=list)
    matched_at: float = 0.0
    newest_version_id: int | None = None  # None: not known yet
    newest_version_name: str | None = None

    @property
    def update_available(self) -> bool:
        return self.newest_version_id is not None and self.newest_version_id != self.version_id

    def url(self, base_url: str = DEFAULT_CIVITAI_BASE_URL) -> str:
        """The model page on Civitai, opened at this file's version."""
        return f"{base_url.rstrip('/')}/models/{self.model_id}?modelVersionId={self.version_id}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["update_available"] = self.update_available
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CivitaiMatch | None:
        try:
            return cls(
                sha256=str(data["sha256"]).lower(),
                model_id=int(data["model_id"]),
                version_id=int(data["version_id"]),
                model_name=str(data.get("model_name") or ""),
                version_name=str(data.get("version_name") or ""),
                base_model=data.get("base_model"),
                model_type=data.get("model_type"),
                trained_words=[str(w) for w in data.get("trained_words") or []],
                matched_at=float(data.get("matched_at") or 0.0),
                newest_version_id=int(data["newest_version_id"]) if data.get("newest_version_id") else None,
                newest_version_name=data.get("newest_version_name"),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass
class NewestVersion:
    version_id: int
    version_name: str | None
    checked_at: float


class MatchStore:
    """Thread-safe persistent store of Civitai matches (None path: memory only)."""

    def __init__(self, path: str | None, clock=time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()
        self._matches: dict[str, CivitaiMatch] = {}
        self._not_found: dict[str, float] = {}
        self._newest: dict[int, NewestVersion] = {}
        self._removed: dict[int, float] = {}
        self._dirty = False
        if path:
            self._load(path)

    def _load(self, path: str) -> None:
        data = load_json_object(path)
        if data.get("version") != _FORMAT_VERSION:
            return
        for raw in (data.get("matches") or {}).values():
            match = CivitaiMatch.from_dict(raw) if isinstance(raw, dict) else None
            if match is not None:
                self._matches[match.sha256] = match
        for sha, when in (data.get("not_found") or {}).items():
            if isinstance(when, (int, float)):
                self._not_found[str(sha).lower()] = float(when)
        for model_id, when in (data.get("removed") or {}).items():
            if str(model_id).isdigit() and isinstance(when, (int, float)):
                self._removed[int(model_id)] = float(when)
        for model_id, raw in (data.get("newest") or {}).items():
            try:
                self._newest[int(model_id)] = NewestVersion(
                    int(raw["version_id"]), raw.get("version_name"), float(raw["checked_at"])
                )
            except (KeyError, TypeError, ValueError):
                continue

    # -- matches ---------------------------------------------------------------------------
    def get(self, sha256: str) -> CivitaiMatch | None:
        """The match for a hash, with the newest known version of its model filled in."""
        with self._lock:
            match = self._matches.get(sha256.lower())
            if match is None:
                return None
            newest = self._newest.get(match.model_id)
            if newest is not None:
                match.newest_version_id, match.newest_version_name = newest.version_id, newest.version_name
            return match

    def put(self, match: CivitaiMatch) -> None:
        with self._lock:
            self._matches[match.sha256] = match
            self._not_found.pop(match.sha256, None)
            self._dirty = True

    def all_matches(self) -> list[CivitaiMatch]:
        with self._lock:
            return [m for m in (self.get(sha) for sha in list(self._matches)) if m is not None]

    def forget(self, sha256: str) -> None:
        """Drop everything known about a hash, so the next match asks Civitai again."""
        with self._lock:
            self._matches.pop(sha256.lower(), None)
            self._not_found.pop(sha256.lower(), None)
            self._dirty = True

    # -- not on Civitai --------------------------------------------------------------------
    def mark_not_found(self, sha256: str, when: float | None = None) -> None:
        with self._lock:
            self._not_found[sha256.lower()] = self.clock() if when is None else when
            self._dirty = True

    def not_found_since(self, sha256: str) -> float | None:
        """When Civitai last said it does not know this hash, or None."""
        with self._lock:
            return self._not_found.get(sha256.lower())

    # -- newest version per model ----------------------------------------------------------
    def set_newest(self, model_id: int, version_id: int, version_name: str | None = None) -> None:
        with self._lock:
            self._newest[int(model_id)] = NewestVersion(int(version_id), version_name, self.clock())
            self._dirty = True

    def newest(self, model_id: int) -> NewestVersion | None:
        with self._lock:
            return self._newest.get(int(model_id))

    # -- removed from Civitai --------------------------------------------------------------
    def mark_removed(self, model_id: int, when: float | None = None) -> None:
        with self._lock:
            self._removed[int(model_id)] = self.clock() if when is None else when
            self._dirty = True

    def removed_since(self, model_id: int) -> float | None:
        """When Civitai last answered 404 for this model, or None."""
        with self._lock:
            return self._removed.get(int(model_id))

    def clear_removed(self, model_id: int) -> None:
        with self._lock:
            if self._removed.pop(int(model_id), None) is not None:
                self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self.path or not self._dirty:
                return
            data = {
                "version": _FORMAT_VERSION,
                "matches": {sha: asdict(m) for sha, m in self._matches.items()},
                "not_found": dict(self._not_found),
                "newest": {str(k): asdict(v) for k, v in self._newest.items()},
                "removed": {str(k): v for k, v in self._removed.items()},
            }
            write_json_atomic(self.path, data)
            self._dirty = False
