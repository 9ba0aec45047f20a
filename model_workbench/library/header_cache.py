"""Cache of what a model's safetensors header told us (base model, LoRA flavour, alias).

Keyed like the hash cache: path plus size and mtime_ns. A rescan of unchanged files therefore
opens no file at all; only a new or modified safetensors file has its header read (once).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .base_model import guess_base_model, lora_flavour
from .hash_cache import normalize_path
from .jsonfile import load_json_object, write_json_atomic
from .kinds import ModelKind
from .safetensors_header import HeaderError, read_safetensors_header

_FORMAT_VERSION = 1


@dataclass
class HeaderInfo:
    base_model: str | None = None  # Civitai-style label, e.g. "SDXL 1.0"
    base_family: str | None = None  # "SD1", "SD2", "SDXL", "SD3", "Flux"
    base_model_source: str | None = None  # which header field or heuristic decided it
    flavour: str | None = None  # LoRA files: "LoRA", "LyCORIS" or "DoRA"
    alias: str | None = None  # kohya's ss_output_name: the name WebUI may show for a LoRA
    readable: bool = True  # False: the file claims to be safetensors but its header is broken


def read_header_info(kind: ModelKind, path: str) -> HeaderInfo:
    """Read the header of a .safetensors model (never its tensors); other formats give an empty info.

    `.ckpt`/`.pt` are pickles: learning anything from them means unpickling, which can run code,
    so the library never opens them.
    """
    if not path.lower().endswith(".safetensors"):
        return HeaderInfo()
    try:
        header = read_safetensors_header(path)
    except (OSError, HeaderError):
        return HeaderInfo(readable=False)
    info = HeaderInfo(alias=header.metadata.get("ss_output_name") or None)
    guess = guess_base_model(kind, header)
    if guess is not None:
        info.base_model, info.base_family, info.base_model_source = guess.label, guess.family, guess.source
    if kind is ModelKind.LORA:
        info.flavour = lora_flavour(header)
    return info


class HeaderInfoCache:
    """Thread-safe path → (size, mtime_ns, HeaderInfo) store, persisted to `path` (None: memory only)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, int, HeaderInfo]] = {}
        self._dirty = False
        if path:
            data = load_json_object(path)
            raw = data.get("entries") if data.get("version") == _FORMAT_VERSION else None
            if isinstance(raw, dict):
                for key, value in raw.items():
                    try:
                        info = HeaderInfo(**value["info"])
                        self._entries[key] = (int(value["size"]), int(value["mtime_ns"]), info)
                    except (KeyError, TypeError, ValueError):
                        continue

    def get_or_read(self, kind: ModelKind, path: str, size: int, mtime_ns: int) -> HeaderInfo:
        key = normalize_path(path) + "|" + kind.value
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and cached[0] == size and cached[1] == mtime_ns:
            return cached[2]
        info = read_header_info(kind, path)
        with self._lock:
            self._entries[key] = (size, mtime_ns, info)
            self._dirty = True
        return info

    def retain_only(self, live_paths: set[str], kinds: set[ModelKind]) -> None:
        """Drop entries of `kinds` whose normalised path is not in `live_paths` (files gone).

        Header info is cheap to read again, so unlike hashes it is not kept for moved files.
        """
        kind_values = {k.value for k in kinds}
        with self._lock:
            stale = [
                k
                for k in self._entries
                if k.rsplit("|", 1)[1] in kind_values and k.rsplit("|", 1)[0] not in live_paths
            ]
            for key in stale:
                del self._entries[key]
            if stale:
                self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self.path or not self._dirty:
                return
            data = {
                "version": _FORMAT_VERSION,
                "entries": {
                    k: {"size": size, "mtime_ns": mtime_ns, "info": dict(vars(info))}
                    for k, (size, mtime_ns, info) in self._entries.items()
                },
            }
            write_json_atomic(self.path, data)
            self._dirty = False
