"""Aspect-ratio buckets, built and assigned exactly as kohya sd-scripts does.

``make_bucket_resolutions`` and :meth:`BucketPlanner.select_bucket` follow sd-scripts'
``model_util.make_bucket_resolutions`` and ``train_util.BucketManager.select_bucket``:
the predefined buckets hold about ``max_reso`` area in steps of ``divisible``; an image goes to
the bucket with the nearest aspect ratio (its own size when that is a bucket), is scaled to cover
it and is then cropped. With ``no_upscale`` the bucket comes from the image size itself.
Without bucketing, the single bucket is the training resolution (scale to cover, centre crop).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image


def make_bucket_resolutions(
    max_reso: tuple[int, int], min_size: int = 256, max_size: int = 1024, divisible: int = 64
) -> list[tuple[int, int]]:
    max_width, max_height = max_reso
    max_area = max_width * max_height
    resos = set()
    width = int(math.sqrt(max_area) // divisible) * divisible
    resos.add((width, width))
    width = min_size
    while width <= max_size:
        height = min(max_size, int((max_area // width) // divisible) * divisible)
        if height >= min_size:
            resos.add((width, height))
            resos.add((height, width))
        width += divisible
    return sorted(resos)


@dataclass
class BucketChoice:
    reso: tuple[int, int]  # bucket (width, height)
    resized_size: tuple[int, int]  # the image is scaled to this before cropping
    ar_error: float


class BucketPlanner:
    def __init__(
        self,
        resolution: tuple[int, int],
        enable_bucket: bool = True,
        min_size: int = 256,
        max_size: int = 1024,
        reso_steps: int = 64,
        no_upscale: bool = False,
    ) -> None:
        self.max_reso = resolution
        self.max_area = resolution[0] * resolution[1]
        self.reso_steps = reso_steps
        self.no_upscale = no_upscale and enable_bucket
        if not enable_bucket:
            resos = [tuple(resolution)]
        elif self.no_upscale:
            resos = []
        else:
            # sd-scripts rounds min/max down to the step (they are validated to be multiples).
            min_size = min_size - min_size % reso_steps
            max_size = max_size - max_size % reso_steps
            resos = make_bucket_resolutions(resolution, min_size, max_size, reso_steps)
        self.predefined_resos: list[tuple[int, int]] = [tuple(r) for r in resos]  # type: ignore[misc]
        self._resos_set = set(self.predefined_resos)
        self._ars = np.array([w / h for w, h in self.predefined_resos]) if resos else np.array([])

    def _round(self, x: float) -> int:
        x = int(x + 0.5)
        return x - x % self.reso_steps

    def select_bucket(self, image_width: int, image_height: int) -> BucketChoice:
        aspect_ratio = image_width / image_height
        if not self.no_upscale:
            reso = (image_width, image_height)
            if reso not in self._resos_set:
                reso = self.predefined_resos[int(np.abs(self._ars - aspect_ratio).argmin())]
            ar_reso = reso[0] / reso[1]
            scale = reso[1] / image_height if aspect_ratio > ar_reso else reso[0] / image_width
            resized = (int(image_width * scale + 0.5), int(image_height * scale + 0.5))
        else:
            if image_width * image_height > self.max_area:
                rw = math.sqrt(self.max_area * aspect_ratio)
                rh = self.max_area / rw
                bw = self._round(rw)
                bh_w = self._round(bw / aspect_ratio)
                ar_w = bw / bh_w
                bh = self._round(rh)
                bw_h = self._round(bh * aspect_ratio)
                ar_h = bw_h / bh
                if abs(ar_w - aspect_ratio) < abs(ar_h - aspect_ratio):
                    resized = (bw, int(bw / aspect_ratio + 0.5))
                else:
                    resized = (int(bh * aspect_ratio + 0.5), bh)
            else:
                resized = (image_width, image_height)
            reso = (resized[0] - resized[0] % self.reso_steps, resized[1] - resized[1] % self.reso_steps)
        return BucketChoice(reso, resized, reso[0] / reso[1] - aspect_ratio)


def crop_ltrb(bucket_reso: tuple[int, int], image_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """sd-scripts' crop left/top/right/bottom for SDXL's crop conditioning."""
    bucket_ar = bucket_reso[0] / bucket_reso[1]
    image_ar = image_size[0] / image_size[1]
    if bucket_ar > image_ar:
        rw, rh = bucket_reso[1] * image_ar, bucket_reso[1]
    else:
        rw, rh = bucket_reso[0], bucket_reso[0] / image_ar
    left = (bucket_reso[0] - rw) // 2
    top = (bucket_reso[1] - rh) // 2
    return left, top, left + rw, top + rh


def fit_to_bucket(
    image: Image.Image,
    choice: BucketChoice,
    mode: str = "crop",
    random_crop: bool = False,
    rng: random.Random | None = None,
    pad_color: tuple[int, int, int] = (255, 255, 255),
) -> tuple[Image.Image, tuple[int, int]]:
    """Resize and crop (or pad) ``image`` to the bucket; returns the image and crop (top, left)."""
    bw, bh = choice.reso
    if mode == "pad":
        scale = min(bw / image.width, bh / image.height)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resized = image.resize(size, Image.LANCZOS) if size != image.size else image
        canvas = Image.new("RGB", (bw, bh), pad_color)
        left, top = (bw - size[0]) // 2, (bh - size[1]) // 2
        canvas.paste(resized, (left, top))
        return canvas, (0, 0)
    rw, rh = choice.resized_size
    resized = image.resize((rw, rh), Image.LANCZOS) if (rw, rh) != image.size else image
    rng = rng or random.Random()
    left = top = 0
    if rw > bw:
        trim = rw - bw
        left = rng.randint(0, trim) if random_crop else trim // 2
    if rh > bh:
        trim = rh - bh
        top = rng.randint(0, trim) if random_crop else trim // 2
    return resized.crop((left, top, left + bw, top + bh)), (top, left)
