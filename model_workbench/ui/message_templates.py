"""Translate sentences that were filled in before they reached the UI.

The core speaks English: its sentences are templates in ``messages.py`` modules, filled with
``str.format`` long before a handler shows them ("Training failed: …", "a.png: this is not an image
file…"). WebUI's own localisation only replaces texts that equal a key, so a filled sentence would stay
English. Here a template becomes a pattern that recognises its filled form; the captured values are
put into the translated template (and translated themselves when they are sentences too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# {name}, {name!r}, {value:.0f}: the fields str.format fills in the core's templates.
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:![rsa])?(?::[^{}]*)?\}")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?。])\s+")


def _pattern(template: str) -> re.Pattern[str] | None:
    """A regex whose full match is ``template`` filled with any values (None for a plain string)."""
    parts, seen, last = [], set(), 0
    for field in _FIELD.finditer(template):
        parts.append(re.escape(template[last:field.start()]))
        name = field.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = field.end()
    if not seen:
        return None
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL)


class MessageTranslator:
    """Translates known sentences and filled templates with one translation table."""

    def __init__(self, table: Mapping[str, str], sentence_joiner: str = " ") -> None:
        self.table = {key: value for key, value in table.items() if value}
        self.joiner = sentence_joiner
        found = [(p, key) for key in self.table if (p := _pattern(key)) is not None]
        # The template with the most fixed text first: "Training failed: {error}" must not win over a
        # longer template that also matches.
        found.sort(key=lambda item: -len(_FIELD.sub("", item[1])))
        self.templates = found
        # The same few texts come back every poll second (progress, queue rows): match each once.
        self._seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        """``text`` translated when it is a known sentence or a filled template, else as it is.

        A text of several sentences that matches no template whole is translated sentence by sentence.
        """
        if not self.table or not text:
            return text
        done = self._seen.get(text)
        if done is None:
            done = self._seen[text] = self._translate(text, 0)
            if len(self._seen) > 4096:  # texts with changing numbers: keep the memo small
                self._seen.clear()
        return done

    def _translate(self, text: str, depth: int) -> str:
        if not self.table or not text or depth > 4:
            return text
        exact = self.table.get(text)
        if exact:
            return exact
        for pattern, key in self.templates:
            match = pattern.fullmatch(text)
            if match:
                values = {name: self._translate(value, depth + 1) for name, value in match.groupdict().items()}
                return _fill(self.table[key], values)
        if depth == 0:
            sentences = _SENTENCE_BREAK.split(text.strip())
            if len(sentences) > 1:
                translated = [self._translate(s, depth + 1) for s in sentences]
                if translated != sentences:
                    return self.joiner.join(translated)
        return text


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _FIELD.sub(lambda field: values.get(field.group(1), field.group(0)), template)
