"""Small image folders for training tests: distinct coloured squares with captions, and one
file of every bad kind the dataset loader must handle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = [(230, 40, 40), (40, 200, 60), (40, 60, 230), (240, 220, 40), (200, 40, 200), (40, 200, 200)]


def square_image(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> Image.Image:
    w, h = size
    array = np.zeros((h, w, 3), np.uint8)
    array[:] = colour
    array[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 255 - np.array(colour)
    return Image.fromarray(array, "RGB")


def make_concept_folder(root: Path, n: int = 4, repeats: int = 1, concept: str = "tinycat",
                        sizes: list[tuple[int, int]] | None = None) -> Path:
    """``root/<repeats>_<concept>/img<i>.png`` + ``img<i>.txt``; returns ``root``."""
    folder = root / f"{repeats}_{concept}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        size = sizes[i % len(sizes)] if sizes else (64, 64)
        square_image(COLOURS[i % len(COLOURS)], size).save(folder / f"img{i}.png")
        (folder / f"img{i}.txt").write_text(f"{concept}, colour{i}, square", encoding="utf-8")
    return root


def make_bad_images(folder: Path) -> dict[str, str]:
    """One file per bad kind; returns {file name: kind}."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}
    good = square_image((120, 80, 40))
    # damaged: a PNG cut in half
    full = folder / "_full.png"
    good.save(full)
    data = full.read_bytes()
    full.unlink()
    (folder / "corrupt.png").write_bytes(data[: len(data) // 2])
    kinds["corrupt.png"] = "corrupt"
    (folder / "notimage.png").write_text("this is not a picture", encoding="utf-8")
    kinds["notimage.png"] = "not_image"
    (folder / "readme.pdf").write_bytes(b"%PDF-1.4 not an image")
    kinds["readme.pdf"] = "not_image"
    good.convert("CMYK").save(folder / "cmyk.jpg")
    kinds["cmyk.jpg"] = "cmyk"
    sixteen = (np.tile(np.linspace(0, 65535, 64), (64, 1))).astype(np.uint16)
    Image.fromarray(sixteen, "I;16").save(folder / "sixteen.png")
    kinds["sixteen.png"] = "16bit"
    rgba = good.convert("RGBA")
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[:, :32] = 0
    rgba.putalpha(Image.fromarray(alpha, "L"))
    rgba.save(folder / "alpha.png")
    kinds["alpha.png"] = "alpha"
    good.resize((16, 16)).save(folder / "tiny.png")
    kinds["tiny.png"] = "tiny"
    good.resize((400, 400)).save(folder / "huge.png")  # "huge" under the test's small limit
    kinds["huge.png"] = "huge"
    good.save(folder / "fine.png")
    kinds["fine.png"] = "ok"
    return kinds
