"""Dataset preparation: captions, batch tag edits, frequencies, preprocessing and auto-tagging."""

from __future__ import annotations

import pytest
from PIL import Image

from model_workbench.training import dataset_tools as dt
from model_workbench.training import projects
from tests.support.tiny_dataset import make_concept_folder, square_image
from tests.support.tiny_host import tiny_host


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "data"
    paths = projects.create_project(root, "cat")
    make_concept_folder(paths.dataset, n=3, repeats=5, concept="tinycat")
    return root, paths


def test_images_with_captions_and_single_edit(project):
    root, paths = project
    items = dt.dataset_images(root, "cat")
    assert [(i.path.name, i.concept, i.repeats) for i in items] == [
        ("img0.png", "tinycat", 5), ("img1.png", "tinycat", 5), ("img2.png", "tinycat", 5)]
    assert items[0].caption == "tinycat, colour0, square"
    dt.write_caption(root, "cat", items[0].path, "tinycat, red")
    assert dt.dataset_images(root, "cat")[0].caption == "tinycat, red"
    with pytest.raises(projects.ProjectError, match="outside"):
        dt.write_caption(root, "cat", paths.dir / "elsewhere.png", "x")


def test_batch_add_remove_replace_and_frequency(project):
    root, _ = project
    assert dt.edit_tags(root, "cat", add=["solo", "Square"]) == 3  # "square" is present: not doubled
    assert dt.dataset_images(root, "cat")[1].caption == "tinycat, colour1, square, solo"
    assert dt.edit_tags(root, "cat", remove=["SQUARE"]) == 3
    assert dt.edit_tags(root, "cat", replace=("colour1", "green")) == 1
    only = [dt.dataset_images(root, "cat")[0].path]
    assert dt.edit_tags(root, "cat", only, add=["best"], front=True) == 1
    captions = [i.caption for i in dt.dataset_images(root, "cat")]
    assert captions == ["best, tinycat, colour0, solo", "tinycat, green, solo", "tinycat, colour2, solo"]
    assert dt.tag_frequency(root, "cat")[:2] == [("solo", 3), ("tinycat", 3)]


def test_preprocess_crops_pads_flips_and_keeps_originals(tmp_path):
    root = tmp_path / "data"
    paths = projects.create_project(root, "cat")
    folder = projects.create_concept(root, "cat", "tall", 2)
    square_image((200, 30, 30), (64, 128)).save(folder / "tall.png")
    (folder / "tall.txt").write_text("tall, red", encoding="utf-8")
    report = dt.preprocess(root, "cat", 96, 96, "crop", flip=True)
    assert report == ["tall.png: 64×128 → 96×96 (crop), mirrored copy added"]
    with Image.open(folder / "tall.png") as im:
        assert im.size == (96, 96)
    assert (folder / "tall-flip.png").is_file() and (folder / "tall-flip.txt").read_text().strip() == "tall, red"
    assert (paths.dir / "originals" / folder.name / "tall.png").is_file()
    dt.preprocess(root, "cat", 64, 64, "pad")  # redone from the original, flips left alone
    with Image.open(folder / "tall.png") as im:
        assert im.size == (64, 64) and im.getpixel((2, 32)) == (255, 255, 255)
    with pytest.raises(ValueError, match="multiple|whole numbers"):
        dt.preprocess(root, "cat", 10, 64)
    with pytest.raises(ValueError, match="resize mode"):
        dt.preprocess(root, "cat", 64, 64, "zoom")


def test_auto_tag_through_the_host_with_modes(tmp_path):
    host = tiny_host(tmp_path)
    root = host.data_dir()
    paths = projects.create_project(root, "cat")
    folder = projects.create_concept(root, "cat", "tinycat", 1)
    square_image((230, 40, 40)).save(folder / "a.png")
    square_image((40, 60, 230)).save(folder / "b.png")
    (folder / "b.txt").write_text("mine", encoding="utf-8")
    seen = []
    report = dt.auto_tag(host, root, "cat", "deepbooru", 0.5, "skip captioned",
                         progress=lambda d, t, label: seen.append((d, t, label)))
    assert report[1] == "b.png: kept its caption" and seen[0] == (0, 2, "a.png") and seen[-1] == (2, 2, "")
    captions = {i.path.name: i.caption for i in dt.dataset_images(root, "cat")}
    assert captions["a.png"].startswith("tinycat, red background") and captions["b.png"] == "mine"
    dt.auto_tag(host, root, "cat", "blip", 0.5, "append")
    assert dt.dataset_images(root, "cat")[1].caption.startswith("mine, a square picture in blue")
    dt.auto_tag(host, root, "cat", "deepbooru", 0.5, "replace")
    assert dt.dataset_images(root, "cat")[1].caption.startswith("tinycat, blue background")
    assert host.current_job is None and paths.dataset.is_dir()


def test_preprocess_names_a_file_that_is_no_image_in_plain_words(tmp_path):
    root = tmp_path / "data"
    projects.create_project(root, "cat")
    folder = projects.create_concept(root, "cat", "mixed", 2)
    (folder / "renamed.png").write_bytes(b"%PDF-1.7 not an image at all")
    report = dt.preprocess(root, "cat", 64, 64, "crop")
    assert len(report) == 1 and report[0].startswith("renamed.png: skipped")
    assert "not an image" in report[0] and "identify" not in report[0] and "/" not in report[0]
