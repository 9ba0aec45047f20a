"""Read the JSON header of a .safetensors file without touching its tensors.

A safetensors file starts with an 8-byte little-endian length N, then N bytes of JSON that map
tensor names to {dtype, shape, data_offsets} plus an optional "__metadata__" dict of strings.
Reading only those bytes costs one small read even for a 7 GB checkpoint, which is what makes
base-model detection cheap enough to run on every new file in a scan.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

# safetensors itself refuses headers above 100 MB; a larger length means a corrupt or foreign file.
MAX_HEADER_BYTES = 100 * 1024 * 1024


class HeaderError(ValueError):
    """The file is not a readable safetensors file."""


@dataclass
class SafetensorsHeader:
    """What the header says: string metadata and each tensor's shape (no data)."""

    metadata: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, list[int]] = field(default_factory=dict)
    header_length: int = 0


def read_safetensors_header(path: str) -> SafetensorsHeader:
    """Parse the header of the safetensors file at `path`; raise HeaderError if it is not one."""
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) != 8:
            raise HeaderError(f"{path} is too short to be a safetensors file.")
        (length,) = struct.unpack("<Q", prefix)
        if length < 2 or length > MAX_HEADER_BYTES:
            raise HeaderError(f"{path} has an implausible safetensors header length ({length}).")
        raw = handle.read(length)
    if len(raw) != length:
        raise HeaderError(f"{path} ends inside its safetensors header.")
    try:
        parsed = parse_header_json(raw)
    except HeaderError as exc:
        raise HeaderError(f"{path}: {exc}") from None
    return header_from_mapping(parsed, length)


def parse_header_json(raw: bytes) -> dict:
    """The header's JSON object from its raw bytes; HeaderError when it is not one."""
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeaderError("the safetensors header is not valid JSON.") from exc
    if not isinstance(parsed, dict):
        raise HeaderError("the safetensors header is not a JSON object.")
    return parsed


def header_from_mapping(parsed: dict, length: int = 0) -> SafetensorsHeader:
    """A parsed header (as read from disk or over HTTP) as metadata and shapes."""
    header = SafetensorsHeader(header_length=length)
    raw_meta = parsed.get("__metadata__")
    if isinstance(raw_meta, dict):
        # The format says values are strings; some writers put numbers in, so stringify them.
        header.metadata = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw_meta.items()}
    for name, info in parsed.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if isinstance(shape, list):
            header.shapes[name] = [int(x) for x in shape if isinstance(x, int)]
    return header
