"""The library knows where each file came from (Civitai or the Hub), and whether the Hub has a newer revision."""

from __future__ import annotations

import json

import pytest

from model_workbench.civitai.http import make_http_client
from model_workbench.huggingface import file_messages as m
from model_workbench.huggingface.probe import ProbeError
from model_workbench.huggingface.updates import newer_hub_revision
from model_workbench.library.hub_record import HubRecord, read_hub_record
from model_workbench.library.kinds import ModelKind
from model_workbench.library.local_library import LocalLibrary
from tests.support.fake_hub import TOKEN, FakeHub

REPO = "artist/ink-lora"


@pytest.fixture()
def hub():
    with FakeHub(repos=[]) as server:
        yield server


def record_for(hub: FakeHub, data: bytes, path: str = "ink.safetensors") -> HubRecord:
    stored = hub.add_file(REPO, path, data)
    return HubRecord(REPO, hub.head(REPO), path, stored.sha256, len(data), "2025-01-02T00:00:00+00:00")


def test_rows_say_where_each_file_came_from(tmp_path):
    lora = tmp_path / "Lora"
    lora.mkdir()
    for name in ("from_hub", "from_civitai", "by_hand"):
        (lora / f"{name}.safetensors").write_bytes(b"\0" * 16)
    record = HubRecord(REPO, "a" * 40, "ink.safetensors", "b" * 64, 16, "2025-01-02T00:00:00+00:00")
    (lora / "from_hub.hf.json").write_text(json.dumps(record.to_dict()))
    (lora / "from_civitai.civitai.info").write_text("{}")
    library = LocalLibrary(str(tmp_path / "data"), {ModelKind.LORA: [str(lora)]})
    rows = {row["name"]: row for row in library.rows()}
    assert (rows["from_hub"]["source"], rows["from_hub"]["hub"]) == ("hub", record.to_dict())
    assert (rows["from_civitai"]["source"], rows["from_civitai"]["hub"]) == ("civitai", None)
    assert rows["by_hand"]["source"] == ""


def test_a_damaged_record_is_no_record(tmp_path):
    (tmp_path / "x.hf.json").write_text("{not json")
    assert read_hub_record(tmp_path / "x.safetensors") is None


def test_newer_revision_compares_the_lfs_hash_at_main(hub):
    http, _ = make_http_client(hub.url, TOKEN)
    record = record_for(hub, b"\1" * 1000)
    assert newer_hub_revision(http, hub.url, record) is False
    hub.update_file(REPO, "ink.safetensors", b"\2" * 1000)  # a new commit on main
    assert newer_hub_revision(http, hub.url, record) is True
    posts = [r for r in hub.requests_to("api") if r.method == "POST"]
    assert posts[-1].path == f"/api/models/{REPO}/paths-info/main"


def test_newer_revision_cannot_tell_without_a_hash_or_a_file(hub):
    http, _ = make_http_client(hub.url, TOKEN)
    record = record_for(hub, b"\1" * 1000)
    assert newer_hub_revision(http, hub.url, HubRecord(REPO, record.revision, "a.json", None, 2, "")) is None
    gone = HubRecord(REPO, record.revision, "gone.safetensors", record.sha256, 1, "")
    assert newer_hub_revision(http, hub.url, gone) is None


def test_newer_revision_failures_are_sentences(hub):
    record = record_for(hub, b"\1" * 1000)
    hub.repos[REPO].private = True  # the file list of a gated repo is public; a private one's is not
    anonymous, _ = make_http_client(hub.url, None)
    with pytest.raises(ProbeError) as info:
        newer_hub_revision(anonymous, hub.url, record)
    reason = m.MSG_PROBE_GATED.format(name="ink.safetensors", status=401)
    assert str(info.value) == m.MSG_CHECK_FAILED.format(repo=REPO, name="ink.safetensors", reason=reason)
    hub.faults.html_pages = -1  # a captive portal / broken mirror: a web page with status 200
    with pytest.raises(ProbeError) as info:
        newer_hub_revision(anonymous, hub.url, record)
    assert "ink.safetensors" in str(info.value)
