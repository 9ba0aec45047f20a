"""UI strings and their translations.

Inside WebUI, translation is WebUI's own: its JavaScript replaces every text on the page that has an
entry in the active ``localizations/<lang>.json``, so builders pass English through unchanged.
The standalone app has no such script, so there :func:`t` looks strings up itself.

Every string a builder shows goes through :func:`t`, which also records it; a test checks that each
recorded string has a zh_CN translation.
"""

from __future__ import annotations

import json
from pathlib import Path

LOCALIZATIONS_DIR = Path(__file__).resolve().parents[2] / "localizations"

_translations: dict[str, str] = {}
seen_strings: set[str] = set()


def available_languages() -> list[str]:
    return sorted(p.stem for p in LOCALIZATIONS_DIR.glob("*.json"))


def load_translations(lang: str) -> dict[str, str]:
    """The translations of ``lang`` (an empty dict for English or an unknown language)."""
    if not lang:
        return {}
    path = LOCALIZATIONS_DIR / f"{lang}.json"
    if not path.is_file():
        raise ValueError(f"No translation for language {lang!r}. Available: {', '.join(available_languages())}")
    return json.loads(path.read_text(encoding="utf-8"))


def set_language(lang: str) -> None:
    """Translate strings on the Python side (standalone); ``""`` leaves them English (WebUI)."""
    global _translations
    _translations = load_translations(lang)


def t(text: str) -> str:
    seen_strings.add(text)
    return _translations.get(text, text)


def tf(text: str, **values: object) -> str:
    """Translate a template, then fill it in (so the translation may move the placeholders)."""
    return t(text).format(**values)
