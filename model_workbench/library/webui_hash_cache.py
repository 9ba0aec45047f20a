"""Read SHA256s that WebUI already computed, from its JSON hash cache (`cache.json`).

Two formats, both read here without importing anything from WebUI:

WebUI up to 1.8 (and forks that kept it) store hashes in `<data dir>/cache.json`:

    {"hashes": {"checkpoint/sub/model.safetensors": {"mtime": 1700000000.5, "sha256": "<hex>"},
                "lora/my_lora": {...}, "textual_inversion/x": {...}, "hypernet/y": {...}},
     "hashes-addnet": {...}, "safetensors-metadata": {...}}

Only the "hashes" section holds whole-file SHA256s. "hashes-addnet" holds kohya's addnet hash
(the tensor bytes only, Civitai's AutoV3), which the SHA256-only bulk lookup cannot use, so it
is ignored.

WebUI 1.9+ keeps the same entries in a diskcache store, `<data dir>/cache/hashes/cache.db`: an
SQLite table `Cache(key, raw, mode, filename, value, ...)` whose value is the pickled entry dict.
It is opened read-only, and unpickled by an unpickler that refuses every class, so nothing in
the file can run code: a dict of a float and a string needs no class at all.

Inside WebUI the host can pass `modules.hashes.sha256_from_cache` itself instead; it has the
same `(path, title) -> sha256 | None` signature as these readers.

An entry is trusted only while the file's mtime equals the cached one. WebUI 1.10.1 accepts any
file not newer than the entry; an older file put in place (a restored backup, a download that
keeps the server's date) would then get the wrong hash, so this reader is strict, like WebUI's dev branch.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sqlite3
import threading
from collections.abc import Callable
from typing import Optional

from .hash_cache import is_sha256_hex

# float mtimes round-trip through JSON exactly; the tolerance only absorbs platforms that
# report the same time with a different rounding.
_MTIME_TOLERANCE_S = 1e-6


def _entry_sha256(entry: object, path: str) -> str | None:
    """The SHA256 of a WebUI cache entry {"mtime", "sha256"} if it still describes the file."""
    if not isinstance(entry, dict):
        return None
    sha256 = entry.get("sha256")
    cached_mtime = entry.get("mtime")
    if not is_sha256_hex(sha256) or not isinstance(cached_mtime, (int, float)):
        return None
    try:
        ondisk_mtime = os.path.getmtime(path)
    except OSError:
        return None
    if abs(ondisk_mtime - float(cached_mtime)) > _MTIME_TOLERANCE_S:
        return None
    return sha256.lower()


class WebUIHashCacheJson:
    """Callable `(path, webui_title) -> sha256 | None` over a WebUI `cache.json` file.

    The file is read once and again only when it changes on disk, so calling this for every
    model in a scan costs a dict lookup plus one stat of the model file.
    """

    def __init__(self, cache_json_path: str) -> None:
        self.cache_json_path = cache_json_path
        self._lock = threading.Lock()
        self._hashes: dict[str, dict] = {}
        self._loaded_signature: tuple[int, int] | None = None

    def _refresh(self) -> None:
        try:
            st = os.stat(self.cache_json_path)
        except OSError:
            self._hashes = {}
            self._loaded_signature = None
            return
        signature = (st.st_size, st.st_mtime_ns)
        if signature == self._loaded_signature:
            return
        data = _read_without_moving(self.cache_json_path)
        section = data.get("hashes")
        self._hashes = section if isinstance(section, dict) else {}
        self._loaded_signature = signature

    def __call__(self, path: str, title: str | None) -> str | None:
        if not title:
            return None
        with self._lock:
            self._refresh()
            entry = self._hashes.get(title)
        return _entry_sha256(entry, path)


def _read_without_moving(path: str) -> dict:
    """Unlike our own stores, a damaged WebUI file is WebUI's: it is ignored, never moved aside."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# diskcache's storage modes (diskcache/core.py): only pickled values hold a dict.
_DISKCACHE_MODE_PICKLE = 4


class _NoClassUnpickler(pickle.Unpickler):
    """Unpickles plain data only (dict, list, str, float, int...); any class or function is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError("WebUI hash cache entries never contain objects; refusing to load one.")


def _load_plain_pickle(blob: bytes) -> object:
    try:
        return _NoClassUnpickler(io.BytesIO(blob)).load()
    except Exception:  # any damaged or unexpected entry is simply "not cached"
        return None


class WebUIHashCacheDir:
    """Callable `(path, webui_title) -> sha256 | None` over WebUI 1.9+'s `cache/` folder."""

    def __init__(self, cache_dir: str) -> None:
        self.db_path = os.path.join(cache_dir, "hashes", "cache.db")
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._connection is None:
            if not os.path.isfile(self.db_path):
                return None
            uri = "file:" + self.db_path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
            try:
                self._connection = sqlite3.connect(uri, uri=True, timeout=2.0, check_same_thread=False)
            except sqlite3.Error:
                return None
        return self._connection

    def _row(self, title: str) -> tuple | None:
        with self._lock:
            connection = self._connect()
            if connection is None:
                return None
            try:
                return connection.execute(
                    "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1", (title,)
                ).fetchone()
            except sqlite3.Error:
                # WebUI may be rewriting the database; drop the connection and try next time.
                connection.close()
                self._connection = None
                return None

    def __call__(self, path: str, title: str | None) -> str | None:
        if not title:
            return None
        row = self._row(title)
        if row is None:
            return None
        mode, filename, value = row
        if mode != _DISKCACHE_MODE_PICKLE or filename or not isinstance(value, bytes):
            return None
        return _entry_sha256(_load_plain_pickle(value), path)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def webui_hash_lookup(webui_data_dir: str) -> Callable[[str, Optional[str]], Optional[str]]:
    """The right reader for a WebUI data folder: its `cache/` store if present, else `cache.json`.

    WebUI decides the same way: it converts `cache.json` only while `cache/` does not exist.
    Honours WebUI's SD_WEBUI_CACHE_DIR / SD_WEBUI_CACHE_FILE overrides.
    """
    cache_dir = os.environ.get("SD_WEBUI_CACHE_DIR", os.path.join(webui_data_dir, "cache"))
    if os.path.isdir(cache_dir):
        return WebUIHashCacheDir(cache_dir)
    return WebUIHashCacheJson(os.environ.get("SD_WEBUI_CACHE_FILE", os.path.join(webui_data_dir, "cache.json")))
