"""Loading training images safely: every file becomes an RGB image or a reported skip.

Decisions per kind of bad input:
- not an image, damaged/truncated file, too small, too large → skipped, with a message;
- CMYK, 16-bit, transparent (alpha or palette transparency) → converted, with a note
  (alpha is composited onto white, as WebUI's and train-tools' preprocessing do);
- greyscale and palette images → converted silently (they are ordinary inputs).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import messages

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MIN_SIDE = 64
MAX_MEGAPIXELS = 64


@dataclass
class LoadedImage:
    path: Path
    image: Image.Image | None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.image is not None


def is_image_name(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def _to_8bit_rgb(image: Image.Image, name: str, notes: list[str]) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        if mode == "F" and array.max(initial=0) <= 1.0:
            array = array * 255.0
        elif array.max(initial=0) > 255:
            array = array / 257.0  # 16-bit 0..65535 → 0..255
        notes.append(messages.IMAGE_16BIT.format(name=name))
        return Image.fromarray(np.clip(array.round(), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "CMYK":
        notes.append(messages.IMAGE_CMYK.format(name=name))
        return image.convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "RGBa", "La", "PA") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append(messages.IMAGE_ALPHA.format(name=name))
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")
    return image


def load_training_image(
    path: str | os.PathLike, min_side: int = MIN_SIDE, max_megapixels: float = MAX_MEGAPIXELS
) -> LoadedImage:
    """Open, check and convert one image. Never raises for a bad file: it reports it."""
    path = Path(path)
    name = path.name
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > max_megapixels * 1_000_000:
                    notes.append(messages.IMAGE_TOO_LARGE.format(
                        name=name, width=width, height=height, megapixels=width * height / 1e6, limit=max_megapixels))
                    return LoadedImage(path, None, notes)
                if min(width, height) < min_side:
                    notes.append(messages.IMAGE_TOO_SMALL.format(name=name, width=width, height=height, minimum=min_side))
                    return LoadedImage(path, None, notes)
                opened.load()
                image = ImageOps.exif_transpose(opened) or opened
                image = _to_8bit_rgb(image, name, notes)
                image.load()
    except Image.DecompressionBombError:
        notes.append(messages.IMAGE_BOMB.format(name=name))
        return LoadedImage(path, None, notes)
    except UnidentifiedImageError:
        notes.append(messages.IMAGE_NOT_AN_IMAGE.format(name=name))
        return LoadedImage(path, None, notes)
    except (OSError, SyntaxError, ValueError):
        notes.append(messages.IMAGE_CORRUPT.format(name=name))
        return LoadedImage(path, None, notes)
    return LoadedImage(path, image, notes)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Width and height from the header, after EXIF rotation."""
    with Image.open(path) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
