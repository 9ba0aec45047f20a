"""Unicode bidirectional controls in text that comes from elsewhere (Civitai names, tags, file names).

A RIGHT-TO-LEFT OVERRIDE makes ``invoice_\\u202egnp.safetensors`` display as ``invoice_srotnefas.png``;
an unclosed one reverses whatever follows it on the page. Names, creators, tags, trigger words and
file names never need these invisible controls, so they are removed: from file names and trigger
words before anything is written, and from every remote text before it is displayed. Pure stdlib.
"""

from __future__ import annotations

import re

# Unicode's Bidi_Control property: LRE, RLE, PDF, LRO, RLO (U+202A–U+202E), LRI, RLI, FSI, PDI
# (U+2066–U+2069), LRM, RLM (U+200E, U+200F) and ARABIC LETTER MARK (U+061C).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def strip_bidi(text: str) -> str:
    """``text`` without any bidirectional control character."""
    return _BIDI_RE.sub("", text) if text else text
