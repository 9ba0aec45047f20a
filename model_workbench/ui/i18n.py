"""UI strings and their translations.

Inside WebUI, translation is WebUI's own: its JavaScript replaces every text on the page that has an
entry in the active ``localizations/<lang>.json``, so builders pass English through unchanged.
The standalone app has no such script, so there :func:`t` looks strings up itself.

Every string a builder shows goes through :func:`t`, which also records it; a test checks that each
recorded string has a zh_CN translation. Sentences the core made (its ``messages.py`` templates, filled
in) go through :func:`tm` where they are shown: it recognises a filled template and translates it.

Inside WebUI the builders run in English (WebUI's script translates the page), and afterwards
:func:`set_language` is given WebUI's chosen localisation so that what handlers say at run time (which
WebUI's script cannot match: it is filled in) is translated here.

``localizations/zh_CN.json`` is the one source; ``zh-Hans (Stable).json`` is a generated copy under
the name of the common Chinese language pack (WebUI merges localisation files by name), made by
``python -m model_workbench.ui.localization_copies``.
"""

from __future__ import annotations

import json
from pathlib import Path

from model_workbench.ui.message_templates import MessageTranslator

LOCALIZATIONS_DIR = Path(__file__).resolve().parents[2] / "localizations"

_translations: dict[str, str] = {}
_translate_filled = MessageTranslator({})
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
    global _translations, _translate_filled
    _translations = load_translations(lang)
    _translate_filled = MessageTranslator(_translations, "" if lang.lower().startswith(("zh", "ja")) else " ")


def language_if_available(lang: str) -> str:
    """``lang`` when we ship a translation of that name (WebUI's localisation setting), else English."""
    return lang if lang and lang in available_languages() else ""


def t(text: str) -> str:
    seen_strings.add(text)
    return _translations.get(text, text)


def tf(text: str, **values: object) -> str:
    """Translate a template, then fill it in (so the translation may move the placeholders)."""
    return t(text).format(**values)


def tm(text: str) -> str:
    """A sentence the core made, translated (a known template filled in), or as it is."""
    return _translate_filled(text)


def choice_labels(values: list[str]) -> list[str]:
    """Dropdown labels for fixed English values (gradio 3.41 has no (label, value) choices)."""
    return [t(value) for value in values]


def choice_value(label: str | None, values: list[str]) -> str | None:
    """The English value behind a label shown by :func:`choice_labels` (or the label itself)."""
    for value in values:
        if label in (value, _translations.get(value)):
            return value
    return label
