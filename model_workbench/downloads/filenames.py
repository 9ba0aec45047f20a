"""File names from Content-Disposition or the API, made safe to create on any OS."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import unquote

from model_workbench.bidi import strip_bidi

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_ILLEGAL = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')

# The name budget, in one place. ext4, NTFS, APFS and most others allow 255 bytes per name (UTF-8 on
# Linux). Every file made beside a model ``<name>`` must fit too:
# - appended to the whole name: ``.part``, ``.part.json`` (downloads/state.py) and the temporary file
#   that write_json_atomic writes first, ``.part.json.<8 random>.tmp`` (tempfile.mkstemp);
# - in place of the extension: ``.preview.png``, ``.json``, ``.civitai.info``, ``.hf.json`` (sidecars),
#   each possibly written through the same kind of temporary file;
# - `` (99)`` when a name is taken (numbered_name).
FILESYSTEM_NAME_BYTES = 255
_TEMP_SUFFIX = ".xxxxxxxx.tmp"  # what tempfile.mkstemp(prefix=name + ".", suffix=".tmp") adds
_AFTER_NAME = (".part", ".part.json")
_AFTER_STEM = (".preview.png", ".json", ".civitai.info", ".hf.json")
_NUMBER = " (99)"
LONGEST_SIDE_SUFFIX = max((*_AFTER_NAME, *_AFTER_STEM), key=lambda s: len(s.encode())) + _TEMP_SUFFIX + _NUMBER
MAX_NAME_BYTES = FILESYSTEM_NAME_BYTES - len(LONGEST_SIDE_SUFFIX.encode())
_MAX_EXTENSION_BYTES = 20  # longer than any model extension: beyond this, it is part of the name
_HASH_CHARS = 8


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
    name = strip_bidi(unicodedata.normalize("NFC", name or ""))
    name = name.replace("\\", "/").split("/")[-1]  # keep only the last component of anything path-like
    name = _ILLEGAL.sub("_", name).strip().strip(". ")
    if not name or set(name) <= {"_", "."}:
        name = fallback
    stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    name = f"{stem}{dot}{ext}" if dot else stem
    return shorten_name(name)


def shorten_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to ``max_bytes`` of UTF-8 on a character boundary, keeping its extension; a cut name
    ends with ``~`` and a short hash of the whole name, so two long names that differ only at the end
    stay two files (and the same name always shortens alike, so Retry finds its ``.part``)."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and len(ext.encode("utf-8")) < _MAX_EXTENSION_BYTES else ""
    if not suffix:
        stem = name
    mark = "~" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    room = max_bytes - len(mark.encode()) - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip(". ")
    return f"{cut}{mark}{suffix}"


def numbered_name(name: str, n: int) -> str:
    """``model.safetensors`` → ``model (2).safetensors``."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"


class UnsafeNameError(ValueError):
    """A name typed by the user that would be saved somewhere or as something else than it says."""


FILENAME_NOT_A_NAME = "{name} is not a file name: type a name such as my_model."
FILENAME_HAS_FOLDER = ("The file name {name} contains a folder: type only a name (choose the folder with Subfolder).")
FILENAME_WRONG_EXTENSION = (
    "The file name {name} must end in {ext}, the type of this file on Civitai: under another extension it would not "
    "load, or could be mistaken for another kind of file. Leave the extension out to have it added."
)
_DRIVE = re.compile(r"^[A-Za-z]:(?:$|[\\/])")
# What counts as an extension the user typed: ".exe", ".ckpt"; not the ".5" of "v1.5".
_TYPED_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,15}$")


def user_filename(wanted: str | None, original: str) -> str:
    """The name a download will really get from what the user typed in the File name box (empty: the
    file's own name). Made legal like any name; refused with a sentence (``UnsafeNameError``) when it
    names a folder, or an extension other than the file's own."""
    typed = strip_bidi(wanted or "").strip()
    if not typed:
        return sanitize_filename(original) if original else ""
    if not typed.strip(". "):
        raise UnsafeNameError(FILENAME_NOT_A_NAME.format(name=typed))
    if "/" in typed or "\\" in typed or _DRIVE.match(typed):
        raise UnsafeNameError(FILENAME_HAS_FOLDER.format(name=typed))
    ext = _extension(original)
    typed_ext = _TYPED_EXTENSION.search(typed)
    if ext and typed_ext and typed_ext.group(0).lower() != ext.lower():
        raise UnsafeNameError(FILENAME_WRONG_EXTENSION.format(name=typed, ext=ext))
    if ext and not typed_ext:
        typed += ext
    return sanitize_filename(typed, original or "download.bin")


def _extension(name: str) -> str:
    stem, dot, ext = (name or "").rpartition(".")
    return f".{ext}" if dot and stem and ext else ""
