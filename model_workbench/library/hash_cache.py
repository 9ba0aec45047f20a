"""Our own SHA256 cache: path → (size, mtime_ns, inode, device, sha256), kept in one JSON file.

Validity rule: a cached hash is used only while the file's size and mtime (in nanoseconds) are
exactly what they were when it was hashed. Anything that rewrites a file changes one of them.

Moves and renames (identity rule): when a path is not in the cache, the file may be a known file
under a new name. It is recognised without rehashing when a cached entry
  * has the same size and mtime_ns, and
  * its old path no longer exists (the entry "vanished": a copy keeps its original, a move does not), and
  * either has the same (device, inode) — a rename on the same file system keeps both —
    or is the only such vanished entry (a move across file systems, which keeps mtime but not the
    inode; with several candidates it would be a guess, so the file is hashed instead).
The entry is then re-keyed to the new path. Matches stored by SHA256 (Civitai info) follow the
file automatically because the hash is the identity.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from .jsonfile import load_json_object, write_json_atomic

_FORMAT_VERSION = 1
_SEEN_REFRESH_S = 86400.0


def normalize_path(path: str) -> str:
    """The cache key for a path: absolute, normalised, case-folded where the OS ignores case."""
    return os.path.normcase(os.path.abspath(path))


def is_sha256_hex(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


@dataclass
class HashCacheEntry:
    size: int
    mtime_ns: int
    sha256: str
    inode: int = 0
    device: int = 0
    seen: float = 0.0  # when the file was last seen on disk (unix time), for pruning

    def to_json(self) -> dict:
        return {
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sha256": self.sha256,
            "ino": self.inode,
            "dev": self.device,
            "seen": round(self.seen, 3),
        }

    @classmethod
    def from_json(cls, data: object) -> HashCacheEntry | None:
        if not isinstance(data, dict):
            return None
        try:
            entry = cls(
                size=int(data["size"]),
                mtime_ns=int(data["mtime_ns"]),
                sha256=str(data["sha256"]).lower(),
                inode=int(data.get("ino", 0) or 0),
                device=int(data.get("dev", 0) or 0),
                seen=float(data.get("seen", 0.0) or 0.0),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return entry if is_sha256_hex(entry.sha256) else None


class HashCache:
    """Thread-safe SHA256 cache persisted to `path` (None keeps it in memory only)."""

    def __init__(self, path: str | None, clock=time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._entries: dict[str, HashCacheEntry] = {}
        # (size, mtime_ns) → keys: makes the move check on a cache miss a dict lookup, not a scan.
        self._by_signature: dict[tuple[int, int], set[str]] = {}
        self._dirty = False
        if path:
            self._load(path)

    def _load(self, path: str) -> None:
        data = load_json_object(path)
        raw_entries = data.get("entries") if data.get("version") == _FORMAT_VERSION else None
        if not isinstance(raw_entries, dict):
            return
        for key, raw in raw_entries.items():
            entry = HashCacheEntry.from_json(raw)
            if entry is not None:
                self._set(key, entry)

    def _set(self, key: str, entry: HashCacheEntry) -> None:
        self._drop(key)
        self._entries[key] = entry
        self._by_signature.setdefault((entry.size, entry.mtime_ns), set()).add(key)

    def _drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            keys = self._by_signature.get((old.size, old.mtime_ns))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_signature[(old.size, old.mtime_ns)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The cached SHA256 of `path` if its size and mtime are unchanged, else None."""
        with self._lock:
            entry = self._entries.get(normalize_path(path))
            if entry is None or entry.size != size or entry.mtime_ns != mtime_ns:
                return None
            now = self._clock()
            # "Last seen" feeds prune_missing; refreshed at most daily so a rescan stays read-only.
            if now - entry.seen > _SEEN_REFRESH_S:
                entry.seen = now
                self._dirty = True
            return entry.sha256

    def put(self, path: str, size: int, mtime_ns: int, sha256: str, inode: int = 0, device: int = 0) -> None:
        """Remember that `path` with this size and mtime hashes to `sha256`."""
        if not is_sha256_hex(sha256):
            raise ValueError("A SHA256 must be 64 hexadecimal characters.")
        with self._lock:
            self._set(
                normalize_path(path), HashCacheEntry(size, mtime_ns, sha256.lower(), inode, device, self._clock())
            )
            self._dirty = True

    def find_moved(self, path: str, size: int, mtime_ns: int, inode: int = 0, device: int = 0) -> str | None:
        """Recognise a renamed or moved file (rule in the module docstring); re-key and return its hash."""
        key = normalize_path(path)
        with self._lock:
            candidates = [
                (old_key, self._entries[old_key])
                for old_key in sorted(self._by_signature.get((size, mtime_ns), ()))
                if old_key != key
            ]
            vanished = [(k, e) for k, e in candidates if not os.path.exists(k)]
            chosen = None
            if inode and device:
                same_inode = [(k, e) for k, e in vanished if e.inode == inode and e.device == device]
                if same_inode:
                    chosen = same_inode[0]
            if chosen is None and len(vanished) == 1:
                old_entry = vanished[0][1]
                # Same device but another inode: a different file that merely looks alike.
                same_fs_other_file = inode and device and old_entry.device == device and old_entry.inode
                if not same_fs_other_file:
                    chosen = vanished[0]
            if chosen is None:
                return None
            old_key, entry = chosen
            self._drop(old_key)
            self._set(key, HashCacheEntry(size, mtime_ns, entry.sha256, inode, device, self._clock()))
            self._dirty = True
            return entry.sha256

    def paths_for_hash(self, sha256: str) -> list[str]:
        """Every cached path with this SHA256 (duplicates of one model show up here)."""
        wanted = sha256.lower()
        with self._lock:
            return [k for k, e in self._entries.items() if e.sha256 == wanted]

    def mark_seen(self, path: str) -> None:
        with self._lock:
            entry = self._entries.get(normalize_path(path))
            if entry is not None:
                entry.seen = self._clock()
                self._dirty = True

    def prune_missing(self, max_age_days: float = 30.0) -> int:
        """Forget entries whose file is gone and was last seen more than `max_age_days` ago.

        Vanished entries are kept for a while on purpose: they are how a moved file is recognised.
        """
        cutoff = self._clock() - max_age_days * 86400.0
        with self._lock:
            doomed = [k for k, e in self._entries.items() if e.seen < cutoff and not os.path.exists(k)]
            for key in doomed:
                self._drop(key)
            if doomed:
                self._dirty = True
            return len(doomed)

    def save(self, force: bool = False) -> None:
        """Write the cache to disk if it changed (atomic; no-op for an in-memory cache)."""
        with self._lock:
            if not self.path or not (self._dirty or force):
                return
            data = {
                "version": _FORMAT_VERSION,
                "entries": {k: e.to_json() for k, e in self._entries.items()},
            }
            write_json_atomic(self.path, data)
            self._dirty = False
