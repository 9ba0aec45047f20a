"""The first part of a long text, cut where a reader would stop: after a sentence, else between words.

Model descriptions on Civitai run to megabytes; the ``.json`` sidecar (which WebUI puts into every
Extra Networks card) and the details view show only their beginning. Pure stdlib.
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? followed by a space or line end, or at a CJK full stop (no space follows those).
_SENTENCE_END = re.compile(r"[.!?](?=\s)|[。！？]")
_SPACE = re.compile(r"\s")


def excerpt(text: str, max_chars: int) -> tuple[str, bool]:
    """(``text`` cut to at most ``max_chars``, whether anything was cut). The cut falls after the last
    whole sentence in the second half of the allowance, else at the last space there, else mid-word."""
    if len(text) <= max_chars:
        return text, False
    window = text[: max_chars + 1]  # one more character, to see whether a full stop is followed by a space
    floor = max_chars // 2
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if floor <= m.end() <= max_chars]
    if ends:
        return text[: ends[-1]].rstrip(), True
    spaces = [m.start() for m in _SPACE.finditer(window) if floor <= m.start() <= max_chars]
    return text[: spaces[-1] if spaces else max_chars].rstrip(), True
