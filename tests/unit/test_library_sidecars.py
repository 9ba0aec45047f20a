"""Sidecars beside an installed model: preview (never a video), WebUI user metadata, Civitai Helper info."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from model_workbench.civitai import CivitaiClient
from model_workbench.civitai.types import Model, ModelImage, ModelVersion
from model_workbench.library.sidecars import (
    civitai_info,
    html_to_text,
    pick_preview_image,
    sd_version,
    user_metadata,
    write_sidecars,
)
from tests.support.fake_civitai import FakeCivitai


@pytest.fixture(scope="module")
def server():
    with FakeCivitai() as srv:
        yield srv


@pytest.fixture
def client(server):
    with CivitaiClient(server.url, api_key="test-key", sleep=lambda s: None) as c:
        yield c


def installed(tmp_path, name="castle.safetensors"):
    path = tmp_path / name
    path.write_bytes(b"model")
    return path


def test_all_three_sidecars(server, client, tmp_path):
    f = server.add_file(data=b"w", trained_words=["castle style", "stone"], base_model="SDXL 1.0")
    version = client.get_version(f.version_id)
    model = client.get_model(f.model_id)
    path = installed(tmp_path)
    fetched = []

    def fetch(url):
        fetched.append(url)
        return client.fetch_bytes(url)

    report = write_sidecars(path, version, model, fetch=fetch, preferred_weight=0.8)
    assert sorted(p.name for p in report.written) == ["castle.civitai.info", "castle.json", "castle.preview.png"]
    assert report.problems == []
    # the video (first) and the X-rated image (second) are skipped: the PG image (third) is the preview
    assert len(fetched) == 1 and fetched[0] == version.images[2].url
    with Image.open(tmp_path / "castle.preview.png") as img:
        assert img.format == "PNG"
    meta = json.loads((tmp_path / "castle.json").read_text(encoding="utf-8"))
    assert set(meta) == {"description", "sd version", "activation text", "preferred weight", "negative text", "notes"}
    assert meta["activation text"] == "castle style, stone" and meta["sd version"] == "SDXL"
    assert meta["preferred weight"] == 0.8 and meta["description"] == "A fake model."
    assert f"/models/{f.model_id}?modelVersionId={f.version_id}" in meta["notes"] and "Version notes." in meta["notes"]
    assert (tmp_path / "castle.json").read_text(encoding="utf-8").startswith("{\n    ")  # WebUI's indent=4
    info = json.loads((tmp_path / "castle.civitai.info").read_text(encoding="utf-8"))
    assert info["id"] == f.version_id and info["files"][0]["hashes"]["SHA256"] == f.sha256
    assert info["model"]["description"] and info["model"]["tags"] == ["style"] and info["creator"]["username"]
    assert "test-key" not in json.dumps(info)


def test_existing_user_files_are_never_overwritten(server, client, tmp_path):
    f = server.add_file(data=b"w")
    version = client.get_version(f.version_id)
    path = installed(tmp_path)
    (tmp_path / "castle.json").write_text('{"notes": "mine"}')
    (tmp_path / "castle.civitai.info").write_text("{}")
    (tmp_path / "castle.jpg").write_bytes(b"user preview")
    report = write_sidecars(path, version, fetch=client.fetch_bytes)
    assert report.written == [] and len(report.skipped) == 3
    assert (tmp_path / "castle.json").read_text() == '{"notes": "mine"}'
    assert not (tmp_path / "castle.preview.png").exists()


def test_video_only_versions_get_no_preview(server, client, tmp_path):
    images = [{"id": 1, "url": "ORIGIN/img/fake/v/width=450/1.mp4", "type": "video", "nsfwLevel": 1},
              {"id": 2, "url": "ORIGIN/img/fake/v/width=450/2.jpeg", "type": "image", "nsfwLevel": 16}]
    f = server.add_file(data=b"w", images=images)
    version = client.get_version(f.version_id)
    report = write_sidecars(installed(tmp_path), version, fetch=client.fetch_bytes, metadata=False, info=False)
    assert report.written == [] and "No preview image" in report.problems[0]
    report = write_sidecars(installed(tmp_path, "other.safetensors"), version, fetch=client.fetch_bytes,
                            metadata=False, info=False, max_nsfw_level=16)
    assert [p.name for p in report.written] == ["other.preview.png"]


def test_video_served_under_an_image_name_is_skipped(tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "JPEG")
    served = {"a": (b"\x00\x00\x00\x18ftypmp42", "image/jpeg"), "b": (png.getvalue(), "image/jpeg")}
    version = ModelVersion(id=1, name="v", images=[ModelImage(url="a"), ModelImage(url="b")])
    report = write_sidecars(installed(tmp_path), version, fetch=lambda url: served[url], metadata=False, info=False)
    assert [p.name for p in report.written] == ["castle.preview.png"]


def test_preview_fetch_failure_is_reported(tmp_path):
    def broken(url):
        raise OSError("connection refused")

    version = ModelVersion(id=1, name="v", images=[ModelImage(url="a")])
    report = write_sidecars(installed(tmp_path), version, fetch=broken, metadata=False, info=False)
    assert report.written == [] and "connection refused" in report.problems[0]


def test_pick_preview_image_rules():
    images = [ModelImage(url="v", type="video"), ModelImage(url="x", nsfw_level=8), ModelImage(url="ok", nsfw_level=2)]
    assert pick_preview_image(images).url == "ok"
    assert pick_preview_image(images, max_nsfw_level=1) is None
    assert pick_preview_image(images, max_nsfw_level=8).url == "x"


@pytest.mark.parametrize("base, expected", [
    ("SD 1.5", "SD1"), ("SD 1.4", "SD1"), ("SD 1.5 LCM", "SD1"), ("SD 2.1", "SD2"), ("SD 2.0 768", "SD2"),
    ("SDXL 1.0", "SDXL"), ("SDXL Turbo", "SDXL"), ("Pony", "SDXL"), ("Illustrious", "SDXL"),
    ("Flux.1 D", "Unknown"), ("SD 3.5", "Unknown"), (None, "Unknown"),
])
def test_sd_version(base, expected):
    assert sd_version(base) == expected


def test_html_to_text():
    text = html_to_text("<p>Hello &amp; <b>welcome</b></p><ul><li>one</li><li>two</li></ul><script>x()</script>"
                        "<p>Line<br/>break</p>")
    assert text == "Hello & welcome\n- one\n- two\nLine\nbreak"
    assert html_to_text(None) == ""


def test_metadata_and_info_from_recorded_sample():
    from tests.support.fake_civitai_data import sample

    raw = sample("model-versions-by-hash_1255556")
    version = ModelVersion.from_json(raw)
    meta = user_metadata(version)
    assert meta["activation text"] == ", ".join(version.trained_words) and meta["sd version"] == "Unknown"
    info = civitai_info(version, Model.from_json(sample("models-id-1231067")))
    assert info["id"] == 1255556 and "allowCommercialUse" in info["model"]


def test_bidi_controls_never_reach_the_trigger_words_on_disk():
    raw = {"id": 5, "modelId": 6, "name": "v1", "trainedWords": ["\u202egnp sks", "cat\u2066 style\u2069", "\u200f"],
           "files": [], "images": []}
    version = ModelVersion.from_json(raw)
    assert version.trained_words == ["gnp sks", "cat style"]
    assert user_metadata(version)["activation text"] == "gnp sks, cat style"
    assert civitai_info(version)["trainedWords"] == ["gnp sks", "cat style"]


def test_a_huge_description_leaves_a_short_sidecar_with_the_model_link(tmp_path):
    sentence = "<p>This model paints castles in the evening light, with stone walls and towers.</p>"
    raw_model = {"id": 6, "name": "Castle", "type": "LORA", "description": sentence * 25_000,  # ~2 MB
                 "modelVersions": []}
    version = ModelVersion.from_json({"id": 5, "modelId": 6, "name": "v1", "description": sentence * 5_000,
                                      "trainedWords": ["castle"], "files": [], "images": []})
    report = write_sidecars(tmp_path / "castle.safetensors", version, Model.from_json(raw_model), preview=False)
    assert report.problems == []
    text = (tmp_path / "castle.json").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 8_000
    meta = json.loads(text)
    link = "https://civitai.com/models/6?modelVersionId=5"
    assert meta["description"].startswith("This model paints castles") and link in meta["description"]
    first_part = meta["description"].split("…")[0]
    assert first_part.endswith("towers.")  # cut after a whole sentence, not inside a word
    assert link in meta["notes"]
    # Short descriptions stay whole.
    short = user_metadata(version, Model.from_json(dict(raw_model, description=sentence)))
    assert short["description"] == "This model paints castles in the evening light, with stone walls and towers."
