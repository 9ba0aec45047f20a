"""Every recorded Civitai sample and every synthesised variant parses into typed objects."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from model_workbench.civitai import coerce
from model_workbench.civitai.types import (
    Enums,
    Model,
    ModelImage,
    ModelVersion,
    parse_image_page,
    parse_model_page,
)
from tests.support import fake_civitai_data as data

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "data" / "civitai-samples").glob("*.json"))


def test_samples_are_present():
    assert len(SAMPLES) == 6


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name[:40])
def test_every_recorded_sample_parses(path: Path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    if "items" in raw:
        page = parse_model_page(raw)
        assert len(page.items) == len(raw["items"]) > 0
        models = page.items
    elif "modelVersions" in raw:
        models = [Model.from_json(raw)]
    else:
        version = ModelVersion.from_json(raw)
        assert version.id == raw["id"] and version.files and version.primary_file is not None
        assert version.primary_file.sha256 == raw["files"][0]["hashes"]["SHA256"].upper()
        assert version.model is not None and version.model.type in ("Checkpoint", "LORA")
        assert version.created_at is not None and version.created_at.tzinfo is not None
        return
    for model, raw_model in zip(models, raw.get("items", [raw]), strict=True):
        assert model.id == raw_model["id"] and model.name == raw_model["name"]
        assert len(model.versions) == len(raw_model["modelVersions"])
        for version, raw_version in zip(model.versions, raw_model["modelVersions"], strict=True):
            assert version.id == raw_version["id"]
            assert len(version.files) == len(raw_version["files"])
            assert len(version.images) == len(raw_version["images"])
            assert version.model_id == model.id
            if version.files:
                assert version.primary_file is not None


def test_modern_list_sample_details():
    raw = json.loads(next(p for p in SAMPLES if "limit10" in p.name).read_text())
    page = parse_model_page(raw)
    assert page.next_cursor == "22138|364671|25494"
    assert page.next_page.startswith("https://api.civitai.com/api/v1/models?") and page.has_more
    first = page.items[0]
    assert first.allow_commercial_use and isinstance(first.allow_commercial_use, list)
    assert all(isinstance(t, str) for t in first.tags)
    version = first.versions[0]
    assert version.published_at is not None and version.published_at.tzinfo == timezone.utc  # no "Z" in the list
    files = [f for m in page.items for v in m.versions for f in v.files]
    assert any(not f.primary and "primary" not in f.raw for f in files)  # missing primary → False
    videos = [i for m in page.items for v in m.versions for i in v.images if i.is_video]
    assert len(videos) == 1 and videos[0].url.endswith(".jpeg")  # the type wins over the extension
    levels = {i.nsfw_level for m in page.items for v in m.versions for i in v.images}
    assert levels <= {1, 2, 4, 8, 16} and 16 in levels


def test_legacy_samples_details():
    legacy_list = parse_model_page(json.loads(next(p for p in SAMPLES if "limit3" in p.name).read_text()))
    assert legacy_list.next_page.endswith("page=2") and legacy_list.next_cursor is None
    model = legacy_list.items[0]
    assert model.allow_commercial_use == [model.raw["allowCommercialUse"]]  # 2023: a plain string
    image = model.versions[0].images[0]
    assert image.nsfw_level in (1, 4) and image.type == "image"
    detail = Model.from_json(json.loads(next(p for p in SAMPLES if "models-id-1102" in p.name).read_text()))
    assert detail.tags == ["punk", "synthwave", "style"]  # 2023 tags were objects
    version = ModelVersion.from_json(json.loads(next(p for p in SAMPLES if "1318" in p.name).read_text()))
    assert version.images and all(i.meta is None for i in version.images)  # "meta": null in this recording
    with_meta = ModelVersion.from_json(json.loads(next(p for p in SAMPLES if "by-hash" in p.name).read_text()))
    assert any(i.meta and "prompt" in i.meta for i in with_meta.images)


def test_current_by_hash_sample_details():
    version = ModelVersion.from_json(json.loads(next(p for p in SAMPLES if "by-hash" in p.name).read_text()))
    assert version.air and version.air.startswith("urn:air:")
    assert version.usage_control == "Download"
    assert "AutoV3" in version.primary_file.hashes
    assert version.base_model and version.trained_words


def test_synthesised_variants_parse():
    models = {m["id"]: Model.from_json(m) for m in data.synthesised_models()}
    archived = models[data.ARCHIVED_MODEL_ID]
    assert archived.is_archived and archived.versions[0].files == [] and archived.versions[0].download_url is None
    taken = models[data.TAKEN_DOWN_MODEL_ID]
    assert taken.is_taken_down and taken.versions[0].images == []
    quirky = models[data.QUIRKY_MODEL_ID]
    assert quirky.allow_commercial_use == ["Image", "RentCivit"]  # the Postgres literal form
    assert quirky.tags == ["quirk", "odd"] and quirky.download_count is None
    version = quirky.versions[0]
    assert version.download_count is None
    assert version.published_at == datetime(2024, 5, 12, 7, 2, 8, 427000, tzinfo=timezone.utc)
    assert version.trained_words == ["quirk, odd", "strange"]
    main, training = version.files
    assert not main.primary and version.primary_file is main  # no primary flag: the model file is chosen
    assert main.fp is None and main.size_variant is None and training.hashes == {} and training.sha256 is None
    soft, video, plain = version.images
    assert soft.nsfw_level == coerce.NSFW_PG13 and video.is_video and video.nsfw_level == coerce.NSFW_R
    assert plain.nsfw_level == 1


def test_unknown_fields_and_garbage_are_tolerated():
    model = Model.from_json({"id": "12", "name": None, "modelVersions": [{"id": 5, "files": [{"sizeKB": "x"}, 3]},
                                                                       "junk"], "brandNew": [1, 2]})
    assert model.id == 12 and model.name == "" and model.type == "Other"
    assert len(model.versions) == 1 and model.versions[0].files[0].size_kb is None
    assert Model.from_json(None).versions == []
    assert parse_model_page({"items": None}).items == [] and not parse_model_page({}).has_more


def test_image_page_with_string_levels():
    page = parse_image_page({"items": [{"url": "u", "nsfwLevel": "Mature", "meta": {"prompt": "p"}},
                                       {"url": "v.mp4", "nsfwLevel": "X", "type": "video", "meta": None}],
                             "metadata": {"nextCursor": 5}})
    assert [i.nsfw_level for i in page.items] == [4, 8] and page.items[0].meta == {"prompt": "p"}
    assert page.next_cursor == "5" and page.items[1].is_video


def test_sized_url():
    img = ModelImage(url="https://x/abc/width=450/1.jpeg")
    assert img.sized_url() == "https://x/abc/original=true/1.jpeg" and img.sized_url(96).endswith("/width=96/1.jpeg")


def test_enums_parsing():
    enums = Enums.from_json(data.ENUMS)
    assert "LORA" in enums.model_types and "SDXL 1.0" in enums.base_models and enums.from_server


@pytest.mark.parametrize("text, expected", [
    ("2024-05-12T07:02:08.427", datetime(2024, 5, 12, 7, 2, 8, 427000, tzinfo=timezone.utc)),
    ("2024-05-12T07:02:08.427Z", datetime(2024, 5, 12, 7, 2, 8, 427000, tzinfo=timezone.utc)),
    ("2024-05-12T07:02:08Z", datetime(2024, 5, 12, 7, 2, 8, tzinfo=timezone.utc)),
    ("2024-05-12", datetime(2024, 5, 12, tzinfo=timezone.utc)),
    ("2024-05-12T09:02:08.1+02:00", datetime(2024, 5, 12, 7, 2, 8, 100000, tzinfo=timezone.utc)),
    ("", None), (None, None), ("yesterday", None),
])
def test_dates(text, expected):
    assert coerce.parse_datetime(text) == expected


def test_coercions():
    assert coerce.commercial_use("Rent") == ["Rent"]
    assert coerce.commercial_use(["Image", "Sell"]) == ["Image", "Sell"]
    assert coerce.commercial_use("{Image,RentCivit}") == ["Image", "RentCivit"]
    assert coerce.commercial_use(None) == []
    assert coerce.nsfw_level(None, True) == 4 and coerce.nsfw_level(None, False) == 1
    assert coerce.nsfw_level("Soft") == 2 and coerce.nsfw_level(16) == 16 and coerce.nsfw_level(True) == 4
    assert coerce.highest_level(31) == 16 and coerce.highest_level(0) == 1
    assert coerce.as_bool("true") and not coerce.as_bool("false") and coerce.as_int("7") == 7
