"""Dataset loading: <repeats>_<concept> folders, captions, and every bad image kind handled
with a message that names the file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from model_workbench.training.captions import process_caption, read_caption, tag_frequency
from model_workbench.training.config import TrainingConfig
from model_workbench.training.dataset import TrainingDataset, parse_concept_folder, scan_dataset
from model_workbench.training.images import load_training_image
from tests.support.tiny_dataset import make_bad_images, make_concept_folder


def test_concept_folder_names() -> None:
    assert parse_concept_folder("10_my concept") == (10, "my concept")
    assert parse_concept_folder("3_a_b") == (3, "a_b")
    assert parse_concept_folder("concept") is None
    assert parse_concept_folder("0_none") is None


def test_every_bad_image_kind_is_reported_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "2_thing"
    kinds = make_bad_images(folder)
    scan = scan_dataset(tmp_path / "data", max_megapixels=0.1)
    kept = {item.path.name for item in scan.items}
    assert kept == {"cmyk.jpg", "sixteen.png", "alpha.png", "fine.png"}
    text = "\n".join(scan.problems)
    for name, kind in kinds.items():
        if kind != "ok":
            assert name in text, (name, text)
    by_name = {p.split(":")[0]: p for p in scan.problems}
    assert "damaged" in by_name["corrupt.png"]
    assert "not an image" in by_name["notimage.png"] and "not an image" in by_name["readme.pdf"]
    assert "smaller than" in by_name["tiny.png"] and "larger than" in by_name["huge.png"]
    assert "CMYK" in by_name["cmyk.jpg"] and "16-bit" in by_name["sixteen.png"] and "white" in by_name["alpha.png"]
    for item in scan.items:
        assert item.image is None and item.load().mode == "RGB" and item.load().size == item.size
    alpha = next(i for i in scan.items if i.path.name == "alpha.png").load()
    assert alpha.getpixel((2, 32)) == (255, 255, 255)  # transparent half composited onto white
    sixteen = next(i for i in scan.items if i.path.name == "sixteen.png").load()
    assert sixteen.getpixel((0, 0))[0] == 0 and sixteen.getpixel((63, 0))[0] == 255
    assert scan.dataset_dirs == {"2_thing": {"n_repeats": 2, "img_count": 4}}
    assert scan.num_train_images == 8


def test_loader_never_raises_on_missing_file(tmp_path: Path) -> None:
    loaded = load_training_image(tmp_path / "missing.png")
    assert not loaded.ok and "missing.png" in loaded.notes[0]


def test_captions_default_to_concept_and_tag_frequency(tmp_path: Path) -> None:
    make_concept_folder(tmp_path, n=2, repeats=3, concept="red cat")
    (tmp_path / "3_red cat" / "img1.txt").unlink()
    (tmp_path / "notes").mkdir()
    scan = scan_dataset(tmp_path)
    assert [i.caption for i in scan.items] == ["red cat, colour0, square", "red cat"]
    assert scan.tag_frequency == {"3_red cat": {"red cat": 2, "colour0": 1, "square": 1}}
    assert any("notes" in p and "repeat count" in p for p in scan.problems)
    assert read_caption(tmp_path / "3_red cat" / "img0.png") == "red cat, colour0, square"
    assert tag_frequency(["A, b", "a,  B ,c", ""]) == {"a": 2, "b": 2, "c": 1}


def test_caption_processing_like_kohya() -> None:
    caption = "keep, also kept, t1, t2, t3, t4, t5"
    rng = random.Random(0)
    seen = set()
    for _ in range(30):
        out = process_caption(caption, rng, shuffle=True, keep_tokens=2)
        parts = out.split(", ")
        assert parts[:2] == ["keep", "also kept"] and sorted(parts[2:]) == ["t1", "t2", "t3", "t4", "t5"]
        seen.add(out)
    assert len(seen) > 5
    assert process_caption(caption, random.Random(0), dropout_rate=0.999999) == ""
    assert process_caption(caption, random.Random(0), dropout_every_n_epochs=2, epoch=4) == ""
    assert process_caption(caption, random.Random(0), dropout_every_n_epochs=2, epoch=3) == caption
    dropped = process_caption(caption, random.Random(1), tag_dropout_rate=0.5, keep_tokens=1)
    assert dropped.startswith("keep") and len(dropped.split(", ")) < 7
    assert process_caption("a,b\nsecond line", random.Random(0)) == "a,b"


def test_training_dataset_batches_and_preprocessing(tmp_path: Path) -> None:
    make_concept_folder(tmp_path, n=3, repeats=2, sizes=[(64, 64), (128, 64), (96, 160)])
    cfg = TrainingConfig(resolution="64", train_batch_size=2)
    ds = TrainingDataset(scan_dataset(tmp_path), cfg)
    for item in ds.items:
        assert tuple(item.pixels.shape) == (3, 64, 64)
        assert item.pixels.min() >= -1 and item.pixels.max() <= 1
    assert ds.batches_per_epoch() == 3
    b1, b2 = ds.epoch_batches(1, seed=5), ds.epoch_batches(2, seed=5)
    assert b1 == ds.epoch_batches(1, seed=5) and b1 != b2
    assert sorted(i for b in b1 for i in b) == [0, 0, 1, 1, 2, 2]
    flipped = ds.pixels(1, True)
    assert torch.equal(flipped, ds.items[1].pixels.flip(-1))


def test_pad_mode_keeps_whole_image(tmp_path: Path) -> None:
    make_concept_folder(tmp_path, n=1, sizes=[(128, 64)])
    ds = TrainingDataset(scan_dataset(tmp_path), TrainingConfig(resolution="64", resize_mode="pad"))
    pixels = ds.items[0].pixels
    assert tuple(pixels.shape) == (3, 64, 64)
    assert torch.all(pixels[:, 0, :] == 1.0)  # white bars above and below


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    scan = scan_dataset(tmp_path)
    assert scan.problems and "No usable images" in scan.problems[-1]
    with pytest.raises(ValueError, match="No usable images"):
        TrainingDataset(scan, TrainingConfig())
