"""The Hugging Face sub-tab's service over the fake Hub: search and more pages, a pasted link, details with
the files' kinds, and an install through the shared download queue with its sidecars."""

from __future__ import annotations

import json

import pytest

from model_workbench.civitai_service import service_for
from model_workbench.hub_service import HubSearchForm, HubService
from model_workbench.huggingface.errors import HubAccessError, HubError
from model_workbench.library.hub_record import HubRecord, hub_record_path
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from tests.support.fake_hub import TOKEN, FakeHub


@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture
def host(tmp_path, hub):
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data"))
    host.settings_file.save({"model_workbench_hf_endpoint": hub.url})
    yield host
    service_for(host).close()


def test_search_pages_add_up_and_a_pasted_link_opens_its_repo(host, hub):
    service = HubService(host)
    first = service.search(HubSearchForm(query="filler", sort="downloads", kind="lora", limit=10))
    assert len(first.models) == 10 and first.has_more
    assert first.models[0].downloads >= first.models[-1].downloads
    more = service.search(HubSearchForm(), "more", first.state)
    assert len(more.models) == 20 and more.models[:10] == first.models
    linked = service.search(HubSearchForm(query=f"{hub.url}/fake-org/castle-lora/blob/main/castle_lora.safetensors"))
    assert [m.repo_id for m in linked.models] == ["fake-org/castle-lora"]
    assert linked.state["open"]["path"] == "castle_lora.safetensors"
    previews = service.previews(linked.models)
    assert previews["fake-org/castle-lora"].endswith("/images/castle_preview.png")
    assert all(request.path.startswith(("/api/", "/fake-org/")) for request in hub.requests_to("api"))


def test_details_say_what_each_file_is(host):
    service = HubService(host)
    details = service.details("fake-org/castle-lora")
    kinds = service.kinds(details)
    assert (kinds["castle_lora.safetensors"].kind, kinds["castle_lora.safetensors"].family) == ("lora", "sd1")
    diffusers = service.kinds(service.details("fake-org/tiny-sd-diffusers"))
    assert diffusers and all(not k.loadable for k in diffusers.values())


def test_install_lands_in_the_lora_folder_with_its_sidecars(host, tmp_path):
    service = HubService(host)
    details = service.details("fake-org/castle-lora")
    plan = service.plan("fake-org/castle-lora", details.revision, "castle_lora.safetensors", "lora")
    assert plan.folder == tmp_path / "models" / "Lora"
    job_id, path = service.install("fake-org/castle-lora", details.revision, "castle_lora.safetensors", "lora")
    queue = service_for(host).queue
    queue.wait(job_id, timeout=30)
    job = queue.get(job_id)
    assert job.status.value == "done" and job.verified, job.message
    assert path == tmp_path / "models" / "Lora" / "castle_lora.safetensors" and path.is_file()
    metadata = json.loads(path.with_suffix(".json").read_text())
    assert metadata["activation text"] == "castle style"
    assert path.with_suffix(".preview.png").is_file()
    record = json.loads(path.with_name("castle_lora.hf.json").read_text())
    assert record["repo_id"] == "fake-org/castle-lora" and record["revision"] == details.revision


def test_a_hub_plan_follows_the_civitai_folder_rules(host, tmp_path):
    service = HubService(host)
    revision = service.details("fake-org/castle-lora").revision
    plan = service.plan("fake-org/castle-lora", revision, "castle_lora.safetensors", "lora", "styles", "ink")
    assert (plan.folder, plan.filename) == (tmp_path / "models" / "Lora" / "styles", "ink.safetensors")
    assert plan.kind.value == "lora"
    unknown = service.plan("fake-org/castle-lora", revision, "castle_lora.safetensors", "")
    assert unknown.folder == tmp_path / "models" / "Other"
    with pytest.raises(ValueError):
        service.plan("fake-org/castle-lora", revision, "castle_lora.safetensors", "lora", "../outside")


def test_a_lora_webui_cannot_load_is_not_saved_and_the_reason_is_said(host, tmp_path):
    """Issue 12: a diffusers-format (PEFT) LoRA is saved only if WebUI can load it; A1111 1.10 cannot."""
    service = HubService(host)
    details = service.details("fake-org/castle-lora-peft")
    path = "pytorch_lora_weights.safetensors"
    kind = service.kinds(details)[path]
    assert kind.kind == "lora" and not kind.loadable and kind.reason
    with pytest.raises(HubError) as refused:
        service.install("fake-org/castle-lora-peft", details.revision, path, "lora")
    assert refused.value.status == 422 and path in str(refused.value) and kind.reason in str(refused.value)
    assert service_for(host).queue.snapshot() == []  # nothing queued
    assert not list((tmp_path / "models").rglob("pytorch_lora_weights*"))


def test_a_gated_repo_is_a_sentence_and_a_token_opens_it(host):
    service = HubService(host)
    details = service.details("fake-org/gated-lora")
    kinds = service.kinds(details)
    assert "accept the license" in (kinds["gated_lora.safetensors"].note or "").lower()
    host.settings_file.save({"model_workbench_hf_token": TOKEN})
    assert service.kinds(service.details("fake-org/gated-lora"))["gated_lora.safetensors"].kind == "lora"


def test_private_repos_need_the_token(host):
    with pytest.raises(HubAccessError):
        HubService(host).details("fake-org/private-lora")


def test_installing_from_a_gated_repo_without_a_token_says_what_to_do_at_once(host):
    service = HubService(host)
    details = service.details("fake-org/gated-lora")
    with pytest.raises(HubAccessError, match="set a token in Settings"):
        service.install("fake-org/gated-lora", details.revision, "gated_lora.safetensors", "lora")
    assert service_for(host).queue.snapshot() == []


def test_the_library_says_when_the_hub_has_a_newer_revision_of_an_installed_file(host, hub):
    service = HubService(host)
    details = service.details("fake-org/castle-lora")
    job_id, path = service.install("fake-org/castle-lora", details.revision, "castle_lora.safetensors", "lora")
    civitai = service_for(host)
    civitai.queue.wait(job_id, timeout=30)
    civitai.scan_library()
    rows = [r for r in civitai.library_rows() if r["path"] == str(path)]
    assert rows[0]["hub"]["url"] == f"{hub.url}/fake-org/castle-lora" and rows[0]["source"] == "hub"
    assert service.check_library(rows) == 0 and civitai.library_rows()[0]["hub"]["update_available"] is False
    hub.update_file("fake-org/castle-lora", "castle_lora.safetensors", b"new weights" * 100)
    assert service.check_library(civitai.library_rows()) == 1
    assert civitai.library_rows()[0]["hub"]["update_available"] is True


def installed_rows(tmp_path, *records: HubRecord) -> list[dict]:
    """Library rows for files installed from the Hub: each an empty model file with its ``.hf.json`` beside it."""
    rows = []
    for n, record in enumerate(records):
        path = tmp_path / f"installed{n}.safetensors"
        path.write_bytes(b"\0" * 16)
        hub_record_path(path).write_text(json.dumps(record.to_dict()))
        rows.append({"path": str(path), "hub": record.to_dict()})
    return rows


def test_the_library_cannot_tell_without_a_hash_or_a_file(host, hub, tmp_path):
    service = HubService(host)
    file = next(f for f in service.details("fake-org/castle-lora").files if f.path == "castle_lora.safetensors")
    no_hash = HubRecord("fake-org/castle-lora", file.revision, file.path, None, 16, "")
    gone = HubRecord("fake-org/castle-lora", file.revision, "gone.safetensors", file.sha256, 16, "")
    rows = installed_rows(tmp_path, no_hash, gone)
    listed_before = len([r for r in hub.requests_to("api") if "/tree/" in r.path])
    assert service.check_library(rows) == 0
    checks = service_for(host).hub_checks
    assert [checks[r["path"]]["update_available"] for r in rows] == [None, None]
    # Both records name one repo: its files are listed once.
    assert len([r for r in hub.requests_to("api") if "/tree/" in r.path]) == listed_before + 1


def test_a_failed_library_check_is_a_sentence(host, hub, tmp_path):
    service = HubService(host)
    private = HubRecord("fake-org/private-lora", "a" * 40, "private_lora.safetensors", "b" * 64, 16, "")
    rows = installed_rows(tmp_path, private)
    assert service.check_library(rows) == 0  # a private repo without the token: the Hub refuses to list it
    result = service_for(host).hub_checks[rows[0]["path"]]
    assert result["update_available"] is None
    assert result["check_error"].startswith("fake-org/private-lora was not found on ")
    assert "Error" not in result["check_error"]
    hub.faults.html_pages = -1  # a captive portal / broken mirror: a web page with status 200
    castle = HubRecord("fake-org/castle-lora", "a" * 40, "castle_lora.safetensors", "b" * 64, 16, "")
    rows = installed_rows(tmp_path, castle)
    service.check_library(rows)
    error = service_for(host).hub_checks[rows[0]["path"]]["check_error"]
    assert "answered with a web page instead of data" in error


def test_a_hub_download_cut_by_a_restart_resumes_through_the_hub_with_its_token(host, hub, tmp_path):
    """A ``.part`` left by a Hub download is resumed when the queue starts, through the Hub's client:
    the token goes to the endpoint (a gated repo's file needs it) and never to the storage origin."""
    from model_workbench.downloads import PartState, part_path
    from model_workbench.huggingface.types import resolve_url

    host.settings_file.save({"model_workbench_hf_endpoint": hub.url, "model_workbench_hf_token": TOKEN})
    details = HubService(host).details("fake-org/gated-lora")
    listed = next(f for f in details.files if f.path == "gated_lora.safetensors")
    data = hub.file("fake-org/gated-lora", listed.path).data
    final = tmp_path / "models" / "Lora" / "gated_lora.safetensors"
    final.parent.mkdir(parents=True, exist_ok=True)
    part_path(final).write_bytes(data[:1000])
    PartState(url=resolve_url(hub.url, "fake-org/gated-lora", details.revision, listed.path), name=final.name,
              sha256=listed.sha256, total=len(data)).save(final)

    queue = service_for(host).queue  # a fresh app start: the queue resumes what it finds
    jobs = queue.snapshot()
    assert [j.name for j in jobs] == ["gated_lora.safetensors"]
    assert queue.wait(jobs[0].id, timeout=30)
    job = queue.get(jobs[0].id)
    assert job.status.value == "done" and job.verified, job.message
    assert final.read_bytes() == data
    resolves = [r for r in hub.requests_to("api") if "/resolve/" in r.path]
    assert resolves and all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in resolves)
    assert all("Authorization" not in r.headers for r in hub.requests_to("storage"))
