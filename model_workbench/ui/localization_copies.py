"""Write the copies of our translations under the names of common WebUI language packs.

WebUI merges every extension's ``localizations/<name>.json`` with the language the user picked by
*name*. Users of the popular Chinese pack pick "zh-Hans (Stable)", not "zh_CN", so the same
translations ship under that name too. ``zh_CN.json`` is the one source; run this module after editing
it (a unit test fails while a copy differs).
"""

from __future__ import annotations

import json

from model_workbench.ui.i18n import LOCALIZATIONS_DIR

COPIES: dict[str, list[str]] = {"zh_CN": ["zh-Hans (Stable)"]}


def render(source: str) -> str:
    """The text every copy of ``source`` must have (the source's entries, sorted, as written here)."""
    data = json.loads((LOCALIZATIONS_DIR / f"{source}.json").read_text(encoding="utf-8"))
    return json.dumps(dict(sorted(data.items())), ensure_ascii=False, indent=2) + "\n"


def write_copies() -> list[str]:
    written = []
    for source, names in COPIES.items():
        text = render(source)
        for name in names:
            (LOCALIZATIONS_DIR / f"{name}.json").write_text(text, encoding="utf-8")
            written.append(name)
    return written


if __name__ == "__main__":
    for name in write_copies():
        print(f"wrote localizations/{name}.json")
