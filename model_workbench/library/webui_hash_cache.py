"""Read SHA256s that WebUI already computed, from its JSON hash cache (`cache.json`).

WebUI up to 1.8 (and forks that kept it) store hashes in `<data dir>/cache.json`:

    {"hashes": {"checkpoint/sub/model.safetensors": {"mtime": 1700000000.5, "sha256": "<hex>"},
                "lora/my_lora": {...}, "textual_inversion/x": {...}, "hypernet/y": {...}},
     "hashes-addnet": {...}, "safetensors-metadata": {...}}

Only the "hashes" section holds whole-file SHA256s. "hashes-addnet" holds kohya's addnet hash
(the tensor bytes only, Civitai's AutoV3), which the SHA256-only bulk lookup cannot use, so it
is ignored. WebUI 1.9+ keeps the same entries in a diskcache store; inside WebUI the host passes
`modules.hashes.sha256_from_cache` itself, which has this reader's signature.

An entry is trusted only while the file's mtime equals the cached one. WebUI 1.10.1 accepts any
file not newer than the entry; an older file put in place (a restored backup, a download that
keeps the server's date) would then get the wrong hash, so this reader is strict, like WebUI's dev branch.
"""

from __future__ import annotations

import json
import os
import threading

from .hash_cache import is_sha256_hex

# float mtimes round-trip through JSON exactly; the tolerance only absorbs platforms that
# report the same time with a different rounding.
_MTIME_TOLERANCE_S = 1e-6


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


def _read_without_moving(path: str) -> dict:
    """Unlike our own stores, a damaged WebUI file is WebUI's: it is ignored, never moved aside."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
