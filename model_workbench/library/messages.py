"""Every sentence the library shows a user, in one place so the UI layer can localise them.

Each is a plain English sentence that says what happened and what the user can do.
"""

from __future__ import annotations


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.rstrip(".")


def unknown_kind(value: object, known: list[str]) -> str:
    return f"Unknown model kind {value!r}; use one of: {', '.join(known)}."


def folder_unreadable(folder: str, exc: BaseException) -> str:
    return f"The folder {folder} could not be read ({_reason(exc)}); check that it exists and that you may read it."


def file_unreadable(path: str, exc: BaseException) -> str:
    return f"Could not read {path} ({_reason(exc)}); check that the file exists and that you may read it."


def file_changed_while_hashing(path: str) -> str:
    return f"{path} changed while it was being hashed; scan again once it has finished downloading or copying."


def cache_not_saved(path: str | None, exc: BaseException) -> str:
    return f"The library cache {path} could not be saved ({_reason(exc)}); check free disk space and permissions."


def civitai_lookup_failed(count: int, exc: BaseException) -> str:
    return (
        f"Civitai could not be asked about {count} files ({_reason(exc)}); "
        "they stay unmatched and will be asked again at the next match."
    )
