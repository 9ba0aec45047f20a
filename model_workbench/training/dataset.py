"""The training set: ``<repeats>_<concept>`` folders of images with ``.txt`` captions.

:func:`scan_dataset` reads and checks every image (bad ones are reported by name and skipped or
converted, see :mod:`.images`). :class:`TrainingDataset` assigns kohya buckets, preprocesses each
image to its bucket once, and yields each epoch's batches (one bucket per batch, repeats applied,
order shuffled from the seed and the epoch so a resumed run sees the same batches).
"""

from __future__ import annotations

import math
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import messages
from .buckets import BucketChoice, BucketPlanner, fit_to_bucket
from .captions import process_caption, read_caption, tag_frequency
from .config import TrainingConfig
from .images import MAX_MEGAPIXELS, MIN_SIDE, is_image_name, load_training_image

_FOLDER_RE = re.compile(r"^(\d+)_(.*)$")


def parse_concept_folder(name: str) -> tuple[int, str] | None:
    """``"10_my concept"`` → ``(10, "my concept")``; None when it is not such a folder."""
    m = _FOLDER_RE.match(name)
    if not m or int(m.group(1)) < 1:
        return None
    return int(m.group(1)), m.group(2)


@dataclass
class ImageItem:
    """One usable image. The decoded picture is not kept (a folder of photos would fill memory):
    only its size; :meth:`load` decodes it again, and the dataset keeps the bucket-sized pixels."""

    path: Path
    folder: str
    repeats: int
    caption: str
    size: tuple[int, int]  # (width, height) after EXIF rotation
    bucket: BucketChoice | None = None
    pixels: torch.Tensor | None = None  # (3, H, W) in [-1, 1] at bucket size
    crop_top_left: tuple[int, int] = (0, 0)
    image: Image.Image | None = None  # kept only for random_crop

    def load(self) -> Image.Image:
        """The image as RGB, converted exactly as when it was scanned."""
        if self.image is not None:
            return self.image
        loaded = load_training_image(self.path, min_side=1, max_megapixels=float("inf"))
        if loaded.image is None:
            raise ValueError(" ".join(loaded.notes) or f"{self.path.name} could not be read again.")
        return loaded.image


@dataclass
class DatasetScan:
    folder: Path
    items: list[ImageItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # skips and conversions, one sentence each
    dataset_dirs: dict[str, dict[str, int]] = field(default_factory=dict)
    tag_frequency: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def num_train_images(self) -> int:
        return sum(item.repeats for item in self.items)


def scan_dataset(
    folder: str | os.PathLike,
    caption_extension: str = ".txt",
    min_side: int = MIN_SIDE,
    max_megapixels: float = MAX_MEGAPIXELS,
) -> DatasetScan:
    """Read every ``<repeats>_<concept>`` subfolder of ``folder``."""
    root = Path(folder)
    scan = DatasetScan(root)
    if not root.is_dir():
        scan.problems.append(messages.NO_IMAGES.format(folder=root))
        return scan
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        parsed = parse_concept_folder(sub.name)
        if parsed is None:
            scan.problems.append(messages.FOLDER_IGNORED.format(name=sub.name))
            continue
        repeats, concept = parsed
        captions: list[str] = []
        count = 0
        for path in sorted(sub.iterdir()):
            if not path.is_file() or path.suffix.lower() == caption_extension.lower():
                continue
            if path.name.startswith("."):
                continue
            if not is_image_name(path) and path.suffix.lower() in (".txt", ".caption", ".json", ".npz", ".toml"):
                continue
            loaded = load_training_image(path, min_side, max_megapixels)
            scan.problems.extend(loaded.notes)
            if not loaded.ok:
                continue
            try:
                caption = read_caption(path, caption_extension)
            except (UnicodeDecodeError, OSError):
                scan.problems.append(messages.CAPTION_UNREADABLE.format(name=path.with_suffix(caption_extension).name))
                caption = None
            if caption is None:
                caption = concept  # sd-scripts: the folder's class tokens
            captions.append(caption)
            scan.items.append(ImageItem(path, sub.name, repeats, caption, loaded.image.size))  # type: ignore[union-attr]
            count += 1
        scan.dataset_dirs[sub.name] = {"n_repeats": repeats, "img_count": count}
        scan.tag_frequency[sub.name] = tag_frequency(captions)
    if not scan.items:
        scan.problems.append(messages.NO_IMAGES.format(folder=root))
    return scan


def _to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


@dataclass
class Sample:
    index: int
    flip: bool
    caption: str


class TrainingDataset:
    """Bucketed, preprocessed images and the per-epoch batch plan."""

    def __init__(self, scan: DatasetScan, config: TrainingConfig) -> None:
        if not scan.items:
            raise ValueError(messages.NO_IMAGES.format(folder=scan.folder))
        self.scan = scan
        self.config = config
        self.items = scan.items
        self.planner = BucketPlanner(
            config.resolution_wh(),
            enable_bucket=config.enable_bucket,
            min_size=config.min_bucket_reso,
            max_size=config.max_bucket_reso,
            reso_steps=config.bucket_reso_steps,
            no_upscale=config.bucket_no_upscale,
        )
        self.buckets: dict[tuple[int, int], list[int]] = {}
        errors = []
        for i, item in enumerate(self.items):
            item.bucket = self.planner.select_bucket(*item.size)
            errors.append(abs(item.bucket.ar_error))
            self.buckets.setdefault(item.bucket.reso, []).append(i)
            image = item.load()
            if config.random_crop:
                item.image = image  # cropped afresh at every step
            else:
                fitted, item.crop_top_left = fit_to_bucket(image, item.bucket, config.resize_mode)
                item.pixels = _to_tensor(fitted)
        self.buckets = dict(sorted(self.buckets.items()))
        self.bucket_info = None
        if config.enable_bucket:
            self.bucket_info = {
                "buckets": {
                    str(i): {"resolution": list(reso), "count": sum(self.items[j].repeats for j in idx)}
                    for i, (reso, idx) in enumerate(self.buckets.items())
                },
                "mean_img_ar_error": float(np.mean(errors)) if errors else 0.0,
            }

    def batches_per_epoch(self) -> int:
        bs = self.config.train_batch_size
        return sum(math.ceil(sum(self.items[i].repeats for i in idx) / bs) for idx in self.buckets.values())

    def epoch_batches(self, epoch: int, seed: int) -> list[list[int]]:
        """Item indices per batch for a (1-based) epoch; deterministic in (seed, epoch)."""
        rng = random.Random(f"batches:{seed}:{epoch}")
        bs = self.config.train_batch_size
        batches: list[list[int]] = []
        for idx in self.buckets.values():
            pool = [i for i in idx for _ in range(self.items[i].repeats)]
            rng.shuffle(pool)
            batches.extend(pool[k : k + bs] for k in range(0, len(pool), bs))
        rng.shuffle(batches)
        return batches

    def make_samples(self, batch: list[int], epoch: int, rng: random.Random) -> list[Sample]:
        cfg = self.config
        out = []
        for index in batch:
            caption = process_caption(
                self.items[index].caption,
                rng,
                shuffle=cfg.shuffle_caption,
                keep_tokens=cfg.keep_tokens,
                dropout_rate=cfg.caption_dropout_rate,
                tag_dropout_rate=cfg.caption_tag_dropout_rate,
                dropout_every_n_epochs=cfg.caption_dropout_every_n_epochs,
                epoch=epoch,
            )
            flip = cfg.flip_aug and rng.random() < 0.5
            out.append(Sample(index, flip, caption))
        return out

    def pixels(self, index: int, flip: bool, rng: random.Random | None = None) -> torch.Tensor:
        item = self.items[index]
        if item.pixels is not None:
            pixels = item.pixels
        else:  # random_crop: a new crop every time
            fitted, item.crop_top_left = fit_to_bucket(item.load(), item.bucket, self.config.resize_mode, True, rng)  # type: ignore[arg-type]
            pixels = _to_tensor(fitted)
        return pixels.flip(-1) if flip else pixels
