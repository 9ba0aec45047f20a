"""File names from Content-Disposition or the API, made safe to create on any OS."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_ILLEGAL = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
MAX_NAME_BYTES = 240  # leaves room for ".part.json" under the usual 255-byte limit


def header_text(raw: bytes | str) -> str:
    """A header value as text. Civitai has sent raw UTF-8 in ``filename="…"``: decode it as UTF-8 first."""
    if isinstance(raw, str):
        try:
            return raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def filename_from_content_disposition(value: bytes | str | None) -> str | None:
    """``filename*=`` (RFC 5987) wins over ``filename=``; quotes and escapes are undone. None if absent."""
    if not value:
        return None
    text = header_text(value)
    star = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", text, re.IGNORECASE)
    if star:
        charset = star.group(1).strip() or "utf-8"
        try:
            return unquote(star.group(2).strip().strip('"'), encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    plain = re.search(r'filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)', text, re.IGNORECASE)
    if plain:
        if plain.group(2) is not None:
            return re.sub(r"\\(.)", r"\1", plain.group(2))
        return plain.group(1).strip()
    return None


def sanitize_filename(name: str, fallback: str = "download.bin") -> str:
    """One safe path component: no separators or traversal, no control or Windows-illegal characters,
    no reserved device names, no trailing dots/spaces; non-ASCII letters are kept (NFC)."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]  # keep only the last component of anything path-like
    name = _ILLEGAL.sub("_", name).strip().strip(". ")
    if not name or set(name) <= {"_", "."}:
        name = fallback
    stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    name = f"{stem}{dot}{ext}" if dot else stem
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
        name = f"{stem}{dot}{ext}" if dot else stem
    return name


def numbered_name(name: str, n: int) -> str:
    """``model.safetensors`` → ``model (2).safetensors``."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
