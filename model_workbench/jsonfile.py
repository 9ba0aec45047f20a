"""Write a JSON file atomically: readers see the old file or the new one, never half of either.

Every small JSON file Model Workbench keeps (caches, settings, the key, training configs, manifests,
download state) goes through :func:`write_json_atomic`: a temporary file in the same folder, then
``os.replace``. Pure stdlib; no gradio, no ``modules``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    # Read once at import (os.umask can only be read by setting it); files then get the permissions
    # a plain open() would give them, instead of mkstemp's 0600.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_DEFAULT_MODE = 0o666 & ~_current_umask()


def write_json_atomic(path: str | os.PathLike, data: Any, *, indent: int | None = None, sort_keys: bool = False,
                      mode: int | None = None, fsync: bool = False) -> Path:
    """Write ``data`` to ``path``.

    ``indent=None`` writes compact JSON; ``mode`` sets the permissions before the file appears (0o600 for
    secrets; otherwise what a plain ``open()`` would give); ``fsync`` makes the content durable before the rename (caches that must survive a crash).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps uses the C encoder; json.dump streams through the pure-Python one (10x slower).
    separators = (",", ":") if indent is None else None
    text = json.dumps(data, ensure_ascii=False, indent=indent, sort_keys=sort_keys, separators=separators)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        os.chmod(tmp, _DEFAULT_MODE if mode is None else mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
