"""Finding a font that can draw the labels (CJK included when the system has one), measuring and wrapping.

Pillow 9.5 (WebUI's pin) has ``textbbox`` but also the deprecated ``textsize``; Pillow 10 removed
``textsize``. Everything here goes through ``textbbox``/``getbbox`` so both work. When no
TrueType font exists at all, Pillow's bitmap default font is used; it only knows Latin-1, so
other characters are replaced rather than raising ``UnicodeEncodeError`` mid-grid.
"""

from __future__ import annotations

import functools
import glob
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Fonts with CJK glyphs first (Noto/Source Han, WenQuanYi, Droid fallback, Windows, macOS), then
# common Latin fonts. The environment variable lets a user point at any font file.
_CJK_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/msyh.ttf",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/meiryo.ttc",
    "C:/Windows/Fonts/malgun.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
]
_LATIN_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
    "/Library/Fonts/Arial.ttf",
]
_SEARCH_GLOBS = [
    "/usr/share/fonts/**/*CJK*.tt[cf]",
    "/usr/share/fonts/**/*wqy*.tt[cf]",
    "/usr/share/fonts/**/DejaVuSans.ttf",
    os.path.expanduser("~/.local/share/fonts/**/*.tt[cf]"),
    os.path.expanduser("~/.fonts/**/*.tt[cf]"),
]
FONT_ENV = "MODEL_WORKBENCH_FONT"
# A character no font has: its glyph is the font's "missing" box, used to spot unsupported text.
_SURELY_MISSING = "\U0010fffd"


def _existing(paths: Iterable[str]) -> list[str]:
    return [p for p in paths if p and os.path.isfile(p)]


@functools.lru_cache(maxsize=1)
def candidate_font_files() -> tuple[str, ...]:
    """Font files on this system, best first: the user's choice, CJK-capable ones, then Latin ones."""
    found = _existing([os.environ.get(FONT_ENV, "")])
    found += _existing(_CJK_CANDIDATES)
    if sys.platform != "win32":
        for pattern in _SEARCH_GLOBS:
            found += sorted(glob.glob(pattern, recursive=True))
    found += _existing(_LATIN_CANDIDATES)
    unique: list[str] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return tuple(unique)


@functools.lru_cache(maxsize=64)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


def _missing_glyph_mask(font: ImageFont.FreeTypeFont) -> bytes:
    mask = font.getmask(_SURELY_MISSING)
    return bytes(mask) + repr(mask.size).encode()


def font_supports(font: object, text: str) -> bool:
    """Whether every visible character of ``text`` has a real glyph in ``font``."""
    if not isinstance(font, ImageFont.FreeTypeFont):
        return all(ord(ch) < 256 for ch in text)
    missing = _missing_glyph_mask(font)
    for ch in set(text):
        if ch.isspace() or ord(ch) < 128:
            continue
        mask = font.getmask(ch)
        if bytes(mask) + repr(mask.size).encode() == missing:
            return False
    return True


def load_font(size: int, texts: Iterable[str] = (), font_path: str | Path | None = None) -> object:
    """The first font that draws all ``texts`` at ``size``; else the first TrueType font; else Pillow's default.

    With no CJK font installed, CJK labels still draw (as boxes in a Latin font) instead of crashing.
    """
    sample = "".join(texts)
    paths = ([str(font_path)] if font_path else []) + list(candidate_font_files())
    first = None
    for path in paths:
        font = _truetype(path, size)
        if font is None:
            continue
        if first is None:
            first = font
        if font_supports(font, sample):
            return font
    if first is not None:
        return first
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable built-in font
    except TypeError:
        return ImageFont.load_default()  # Pillow 9.5: the small Latin-1 bitmap font


def drawable(font: object, text: str) -> str:
    """Text the font can encode: the bitmap default font raises on non-Latin-1, so replace those."""
    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return "".join(ch if ord(ch) < 256 else "?" for ch in text)


_MEASURE = ImageDraw.Draw(Image.new("L", (1, 1)))


def text_size(font: object, text: str) -> tuple[int, int]:
    """Width and height of one line (``textbbox`` on Pillow ≥ 8; ``textsize`` is gone in Pillow 10)."""
    text = drawable(font, text)
    if not text:
        return 0, 0
    left, top, right, bottom = _MEASURE.textbbox((0, 0), text, font=font)
    return right - min(0, left), bottom - min(0, top)


def line_height(font: object) -> int:
    """A line height that is the same for every label, so rows of labels line up."""
    return text_size(font, "Ag中")[1] if isinstance(font, ImageFont.FreeTypeFont) else text_size(font, "Ag")[1]


def wrap_text(font: object, text: str, max_width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width``.

    Words are kept whole where they fit; a word wider than the line (or CJK text, which has no
    spaces) is broken between characters. Explicit newlines are kept.
    """
    lines: list[str] = []
    for paragraph in (text or "").split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if text_size(font, candidate)[0] <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
                current = ""
            # The word alone is too wide: break it between characters.
            for ch in word:
                if current and text_size(font, current + ch)[0] > max_width:
                    lines.append(current)
                    current = ""
                current += ch
        lines.append(current)
    return lines
