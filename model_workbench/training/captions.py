"""Captions: reading, kohya's per-step processing (dropout, shuffle with keep_tokens, tag
dropout) and tag frequency for the ``ss_tag_frequency`` metadata."""

from __future__ import annotations

import os
import random
from pathlib import Path


def read_caption(image_path: str | os.PathLike, extension: str = ".txt") -> str | None:
    """The caption beside an image (``<stem><extension>``), or None when there is none.

    Raises UnicodeDecodeError for a file that is not UTF-8 text.
    """
    path = Path(image_path).with_suffix(extension)
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8-sig").strip()


def process_caption(
    caption: str,
    rng: random.Random,
    shuffle: bool = False,
    keep_tokens: int = 0,
    dropout_rate: float = 0.0,
    tag_dropout_rate: float = 0.0,
    dropout_every_n_epochs: int = 0,
    epoch: int = 1,
    separator: str = ",",
) -> str:
    """One step's caption, in kohya's order: caption dropout, first line, then (if shuffling or
    dropping tags) split on ``separator``, keep the first ``keep_tokens`` tags in place, shuffle the
    rest, drop tags, join with ", ". ``epoch`` is 1-based, as in sd-scripts."""
    dropped = dropout_rate > 0 and rng.random() < dropout_rate
    dropped = dropped or (dropout_every_n_epochs > 0 and epoch % dropout_every_n_epochs == 0)
    if dropped:
        return ""
    caption = caption.split("\n")[0]
    if shuffle or tag_dropout_rate > 0:
        tokens = [t.strip() for t in caption.strip().split(separator)]
        fixed, flex = (tokens[:keep_tokens], tokens[keep_tokens:]) if keep_tokens > 0 else ([], tokens[:])
        if shuffle:
            rng.shuffle(flex)
        if tag_dropout_rate > 0:
            flex = [t for t in flex if rng.random() >= tag_dropout_rate]
        caption = ", ".join(fixed + flex)
    return caption


def tag_frequency(captions: list[str]) -> dict[str, int]:
    """Lower-cased, comma-separated tags counted once per caption occurrence (as sd-scripts)."""
    counts: dict[str, int] = {}
    for caption in captions:
        for tag in caption.split(","):
            tag = tag.strip().lower()
            if tag:
                counts[tag] = counts.get(tag, 0) + 1
    return counts
