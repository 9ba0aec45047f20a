"""Small JSON stores on disk: atomic writes, and reads that survive a damaged file.

The library keeps its caches (hashes, header info, Civitai matches) in JSON files the user never
edits. A crash or a full disk in the middle of a write must not leave a half file, so every
write goes to a temporary file in the same folder and is renamed over the old one. A file that
is damaged anyway (hand edits, another tool) is moved aside as `<name>.corrupt` and the store
starts empty: a cache can always be rebuilt, and the user keeps the damaged copy to inspect.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from model_workbench.jsonfile import write_json_atomic as _write_json_atomic

log = logging.getLogger(__name__)


def load_json_object(path: str) -> dict[str, Any]:
    """Return the JSON object stored at `path`; {} when the file is missing or damaged."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _set_aside(path, exc)
        return {}
    if not isinstance(data, dict):
        _set_aside(path, ValueError("the top level is not a JSON object"))
        return {}
    return data


def _set_aside(path: str, reason: Exception) -> None:
    log.warning("The library cache %s could not be read (%s); starting a new one.", path, reason)
    try:
        os.replace(path, path + ".corrupt")
    except OSError:
        pass


def write_json_atomic(path: str, data: Any) -> None:
    """Write a library cache compactly and durably (see :func:`model_workbench.jsonfile.write_json_atomic`)."""
    _write_json_atomic(path, data, fsync=True)
