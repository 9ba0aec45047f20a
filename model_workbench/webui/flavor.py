"""Tell A1111 from Forge by what is there, never by parsing version strings."""

from __future__ import annotations

import importlib.util


def is_forge() -> bool:
    return importlib.util.find_spec("modules_forge") is not None


def flavor() -> str:
    return "forge" if is_forge() else "a1111"
