"""Aspect-ratio buckets against kohya sd-scripts' results, worked out by hand from its rules
(make_bucket_resolutions, BucketManager.select_bucket), for several image sizes."""

from __future__ import annotations

import pytest
from PIL import Image

from model_workbench.training.buckets import BucketPlanner, crop_ltrb, fit_to_bucket, make_bucket_resolutions

# sd-scripts' buckets for --resolution 512 with its defaults (min 256, max 1024, step 64)
KOHYA_512 = [
    (256, 832), (256, 896), (256, 960), (256, 1024), (320, 704), (320, 768), (384, 640), (448, 576),
    (512, 512), (576, 448), (640, 384), (704, 320), (768, 320), (832, 256), (896, 256), (960, 256), (1024, 256),
]


def test_predefined_buckets_512() -> None:
    assert make_bucket_resolutions((512, 512), 256, 1024, 64) == KOHYA_512


def test_predefined_buckets_768_are_area_bounded_multiples() -> None:
    resos = make_bucket_resolutions((768, 768), 256, 1024, 64)
    assert (768, 768) in resos
    for w, h in resos:
        assert w % 64 == 0 and h % 64 == 0 and min(w, h) >= 256 and max(w, h) <= 1024
        assert w * h <= 768 * 768
        assert (h, w) in resos


@pytest.mark.parametrize(
    ("size", "bucket", "resized"),
    [
        ((512, 512), (512, 512), (512, 512)),  # its own size is a bucket
        ((1024, 768), (576, 448), (597, 448)),  # AR 1.333 → 1.286 bucket; height fits
        ((300, 200), (640, 384), (640, 427)),  # AR 1.5 → 1.667 bucket; upscaled, width fits
        ((200, 800), (256, 1024), (256, 1024)),  # AR 0.25 exactly
        ((1920, 1080), (640, 384), (683, 384)),  # AR 1.778: 1.667 is nearer than 2.2; height fits
    ],
)
def test_select_bucket_like_kohya(size, bucket, resized) -> None:
    planner = BucketPlanner((512, 512), enable_bucket=True)
    choice = planner.select_bucket(*size)
    assert choice.reso == bucket
    assert choice.resized_size == resized
    assert choice.ar_error == pytest.approx(bucket[0] / bucket[1] - size[0] / size[1])


@pytest.mark.parametrize(
    ("size", "bucket", "resized"),
    [
        ((2000, 1000), (640, 320), (640, 320)),  # shrunk to max area; height-first rounding wins
        ((300, 200), (256, 192), (300, 200)),  # small: never enlarged, bucket = size - size % 64
        ((512, 512), (512, 512), (512, 512)),
    ],
)
def test_select_bucket_no_upscale_like_kohya(size, bucket, resized) -> None:
    planner = BucketPlanner((512, 512), enable_bucket=True, no_upscale=True)
    choice = planner.select_bucket(*size)
    assert (choice.reso, choice.resized_size) == (bucket, resized)


def test_without_buckets_one_resolution_cover_and_crop() -> None:
    planner = BucketPlanner((512, 512), enable_bucket=False)
    choice = planner.select_bucket(1024, 768)
    assert choice.reso == (512, 512) and choice.resized_size == (683, 512)
    image, (top, left) = fit_to_bucket(Image.new("RGB", (1024, 768)), choice)
    assert image.size == (512, 512) and (top, left) == (0, 85)


def test_crop_ltrb_matches_kohya() -> None:
    assert crop_ltrb((576, 448), (1024, 768)) == (0, 8.0, 576, 440.0)  # fitted to the bucket width, centred vertically
    assert crop_ltrb((512, 512), (512, 512)) == (0, 0, 512, 512)
