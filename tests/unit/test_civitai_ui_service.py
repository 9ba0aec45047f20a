"""The Civitai tab's service and handlers against the fake Civitai server: search paging with plain-data
state, NSFW and "hide installed" filters, download → file + 3 sidecars + host refresh, the 401 message,
folders from the host's settings, library scan → match → update available."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_workbench.civitai import AuthRequiredError
from model_workbench.civitai_service import CivitaiService, SearchForm, nsfw_level_from_setting
from model_workbench.downloads import DownloadOptions, JobStatus
from model_workbench.host import ModelKind
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from model_workbench.ui.civitai_handlers import CivitaiHandlers
from model_workbench.ui.context import UiContext
from tests.support.fake_civitai import FakeCivitai


class RecordingHost(StandaloneHost):
    def __init__(self, config: StandaloneConfig) -> None:
        super().__init__(config)
        self.refreshed: list[ModelKind] = []
        self.hash_lookups: list[tuple[ModelKind, Path]] = []

    def refresh_models(self, kind: ModelKind) -> None:
        self.refreshed.append(kind)

    def cached_sha256(self, kind: ModelKind, path: Path) -> str | None:
        self.hash_lookups.append((kind, path))
        return None


@pytest.fixture(scope="module")
def server():
    with FakeCivitai(api_key="test-key") as srv:
        yield srv


def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def make_service(server, tmp_path):
    made = []

    def make(key: str = "test-key", **settings) -> tuple[CivitaiService, RecordingHost]:
        host = RecordingHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data",
                                              civitai_url=server.url))
        host.settings_file.save({"model_workbench_civitai_api_key": key, **settings})
        service = CivitaiService(host, download_options=DownloadOptions(sleep=no_sleep),
                                 client_kwargs={"sleep": no_sleep, "max_retries": 1})
        made.append(service)
        return service, host

    yield make
    for service in made:
        service.close()


def test_search_pages_forward_and_back_with_plain_data_state(make_service):
    service, _ = make_service()
    first = service.search(SearchForm(limit=3, nsfw_level=16))
    assert len(first.models) == 3 and first.can_go_next and not first.can_go_back
    json.dumps(first.state)  # only plain data goes into gr.State
    second = service.search(SearchForm(), "next", first.state)
    assert second.page_number == 2 and second.can_go_back
    assert {m.id for m in second.models}.isdisjoint({m.id for m in first.models})
    back = service.search(SearchForm(), "back", second.state)
    assert [m.id for m in back.models] == [m.id for m in first.models] and back.page_number == 1


def test_search_filters_nsfw_locally_and_by_query(make_service, server):
    server.add_file(data=b"spicy" * 100, name="spicy.safetensors", model_name="Spicy Unique Model", nsfw_level=8)
    service, _ = make_service()
    assert service.search(SearchForm(query="Spicy Unique", nsfw_level=2)).models == []
    assert [m.name for m in service.search(SearchForm(query="Spicy Unique", nsfw_level=8)).models] == \
        ["Spicy Unique Model"]
    assert nsfw_level_from_setting("R") == 4 and nsfw_level_from_setting("PG") == 1 and nsfw_level_from_setting("XXX") == 16


def test_download_lands_with_three_sidecars_and_refreshes_the_host(make_service, server, tmp_path):
    f = server.add_file(data=b"lora-bytes" * 2000, name="river.safetensors", model_name="River Unique LoRA",
                        trained_words=["river style"])
    service, host = make_service()
    assert [m.id for m in service.search(SearchForm(query="River Unique")).models] == [f.model_id]
    job_id, path = service.download(f.model_id, f.version_id)
    assert path == tmp_path / "models" / "Lora" / "river.safetensors"
    assert service.queue.wait(job_id, timeout=30)
    job = service.queue.get(job_id)
    assert job.status == JobStatus.DONE, job.message
    lora = tmp_path / "models" / "Lora"
    assert sorted(p.name for p in lora.iterdir() if p.name.startswith("river")) == [
        "river.civitai.info", "river.json", "river.preview.png", "river.safetensors"]
    assert host.refreshed == [ModelKind.LORA]
    # Known as installed at once, without a rehash.
    index = service.installed()
    assert index.has_version(f.version_id) and index.has_model(f.model_id)
    hidden = service.search(SearchForm(query="River Unique", hide_installed=True))
    assert hidden.models == [] and hidden.hidden_installed == 1


def test_a_401_download_fails_with_the_api_key_message(make_service, server):
    f = server.add_file(data=b"locked" * 100, name="locked.safetensors", model_name="Locked Unique")
    service, _ = make_service(key="")
    job_id, _ = service.download(f.model_id, f.version_id)
    assert service.queue.wait(job_id, timeout=30)
    job = service.queue.get(job_id)
    assert job.status == JobStatus.FAILED and job.error_kind == AuthRequiredError.__name__
    assert "civitai.com/user/account" in job.message
    handlers = CivitaiHandlers(UiContext(service.host, standalone=False), service)
    state = handlers.open_model(str(f.model_id), {})[-1]
    status, panel = list(handlers.download(0, "", "", state))[-1]
    # The key message is said once: in the job's card, which stays; the status line points there.
    assert (status + panel).count("civitai.com/user/account") == 1
    assert (status + panel).count("Settings → Model Workbench") == 1
    assert "civitai.com/user/account" in panel and "Downloads list" in status and "mw-error" in status


def test_the_client_follows_the_settings(make_service):
    service, host = make_service()
    first = service.client()
    assert service.client() is first
    host.settings_file.save({"model_workbench_civitai_api_key": "another-key"})
    second = service.client()
    assert second is not first and second.has_api_key
    assert "another-key" not in repr(second)


def test_folders_follow_type_overrides_and_base_model_subfolders(make_service, server, tmp_path):
    f = server.add_file(data=b"locon" * 100, name="net.safetensors", model_type="LoCon", base_model="SDXL 1.0")
    service, _ = make_service(model_workbench_use_subfolders=True,
                              model_workbench_dir_checkpoint=str(tmp_path / "ckpts"))
    model = service.model(f.model_id)
    plan = service.plan(model, model.versions[0], None)
    assert plan.folder == tmp_path / "models" / "Lora" / "SDXL 1.0" and plan.kind == ModelKind.LORA
    custom = service.plan(model, model.versions[0], None, subfolder="styles", filename="renamed")
    assert custom.folder == tmp_path / "models" / "Lora" / "styles" and custom.filename == "renamed.safetensors"
    ckpt = server.add_file(data=b"ckpt" * 100, name="base.safetensors", model_type="Checkpoint")
    ckpt_model = service.model(ckpt.model_id)
    assert service.plan(ckpt_model, ckpt_model.versions[0], None, subfolder="").folder == tmp_path / "ckpts"


def test_library_scan_matches_and_marks_an_update(make_service, server, tmp_path):
    v2 = server.add_file(data=b"bridge-v2" * 500, name="bridge_v2.safetensors", model_name="Bridge", version_name="v2")
    v1 = server.add_file(data=b"bridge-v1" * 500, name="bridge_v1.safetensors", model_name="Bridge",
                         version_name="v1", model_id=v2.model_id)
    lora = tmp_path / "models" / "Lora"
    lora.mkdir(parents=True, exist_ok=True)
    (lora / "bridge_v1.safetensors").write_bytes(v1.path.read_bytes())
    (lora / "bridge_v1.json").write_text('{"notes": "mine"}')
    (lora / "homemade.safetensors").write_bytes(b"not on civitai")
    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    updates = list(handlers.library_scan())
    status, table = updates[-1]
    assert "Done:" in status
    rows = {Path(r["path"]).name: r for r in service.library_rows()}
    assert rows["bridge_v1.safetensors"]["status"] == "update_available"
    assert rows["homemade.safetensors"]["status"] == "not_on_civitai"
    assert "Update available" in table and "Not on Civitai" in table
    assert (lora / "bridge_v1.civitai.info").is_file() and (lora / "bridge_v1.preview.png").is_file()
    assert json.loads((lora / "bridge_v1.json").read_text()) == {"notes": "mine"}  # never overwritten
    assert any(kind == ModelKind.LORA for kind, _ in host.hash_lookups)  # WebUI's cache is asked first
    calls = len(server.bulk_calls)
    list(handlers.library_scan())  # "not on Civitai" is remembered: nothing new to ask
    assert len(server.bulk_calls) == calls


def test_open_model_handler_fills_the_download_controls(make_service, server):
    f = server.add_file(data=b"x" * 100, name="meadow.safetensors", model_name="Meadow")
    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    summary, more, files, subfolder, filename, where, state = handlers.open_model(str(f.model_id), {})
    assert "Meadow" in summary and "fake trigger, a castle" in more
    assert files["choices"] == ["meadow.safetensors · Model · 100 B"] and filename == "meadow.safetensors"
    assert "Will be saved to" in where and state == {"model_id": f.model_id, "version_id": f.version_id,
                                                       "file_ids": [f.version_id * 10], "target": str(f.model_id)}
    missing = handlers.open_model("999999999", {})
    assert "mw-error" in missing[0]


def test_search_handler_fills_base_models_from_civitai_enums(make_service, server):
    from tests.support import fake_civitai_data as data

    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service, base_model_choices=["SD 1.5"])
    out = handlers.search("first", "", [], ["SD 1.5", "Gone Model"], "Highest Rated", "AllTime", "PG-13", False, {})
    status, grid, label, state, back, forward = out
    assert status == "" and "mw-cards" in grid and "Page 1" in label
    bases = handlers.base_models_after_search(["SD 1.5", "Gone Model"], state)
    assert bases["choices"] == data.ENUMS["ActiveBaseModel"] and bases["value"] == ["SD 1.5"]
    assert "choices" not in handlers.base_models_after_search([], state)  # unchanged choices: no update sent
    server.faults.outage_times = -1
    try:
        failed = handlers.search("first", "x", [], [], "Highest Rated", "AllTime", "PG-13", False, state)[3]
    finally:
        server.faults.reset()
    handlers.base_model_choices = []
    assert "choices" not in handlers.base_models_after_search([], failed)  # no answer: the list is not asked for


def test_the_queue_resumes_partial_downloads_when_it_starts(make_service, server, tmp_path):
    from model_workbench.downloads import PartState, part_path

    data = b"resumable" * 3000
    f = server.add_file(data=data, name="resumed.safetensors")
    final = tmp_path / "models" / "Lora" / "resumed.safetensors"
    final.parent.mkdir(parents=True, exist_ok=True)
    part_path(final).write_bytes(data[:5000])
    PartState(url=f.download_url, name=final.name, sha256=f.sha256, total=len(data), version_id=f.version_id,
              file_id=f.file_id).save(final)
    service, _ = make_service()
    jobs = service.queue.snapshot()
    assert [j.name for j in jobs] == ["resumed.safetensors"]
    assert service.queue.wait(jobs[0].id, timeout=30)
    assert final.read_bytes() == data and not part_path(final).exists()


def test_library_table_on_page_load_never_scans(make_service):
    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    assert "Press Scan model folders" in handlers.library_table()
    service.scan_library()
    assert "No models found in the model folders." in handlers.library_table()


def test_actionable_messages_for_outage_early_access_and_archived(make_service, server):
    from tests.support import fake_civitai_data as data

    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=False), service)
    server.faults.outage_times = -1
    try:
        status = handlers.search("first", "x", [], [], "Highest Rated", "AllTime", "PG-13", False, {})[0]
    finally:
        server.faults.reset()
    assert "mw-error" in status and "Civitai is unavailable" in status

    early = server.add_file(data=b"ea" * 100, name="early.safetensors", model_name="Early Unique",
                            early_access_deadline="2030-01-02T03:04:05.000Z")
    summary = handlers.open_model(str(early.model_id), {})[0]
    assert "Early Access until 2030-01-02" in summary
    state = handlers.open_model(str(early.model_id), {})[-1]
    final, panel = list(handlers.download(0, "", "", state))[-1]
    assert "Early Access" in panel and "2030" in panel and "Downloads list" in final

    archived = handlers.open_model(str(data.ARCHIVED_MODEL_ID), {})
    assert "archived on Civitai" in archived[0]
    message = list(handlers.download(0, "", "", archived[-1]))[-1][0]
    assert "no downloadable file" in message


def test_a_pasted_model_link_opens_that_model_and_version(make_service, server):
    # v2 is listed first (newest), as Civitai lists versions.
    v2 = server.add_file(data=b"link-v2" * 50, name="linked_v2.safetensors", model_name="Linked Lantern", version_name="v2")
    v1 = server.add_file(data=b"link-v1" * 50, name="linked_v1.safetensors", model_name="Linked Lantern",
                         version_name="v1", model_id=v2.model_id)
    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    for text in (f"https://civitai.com/models/{v1.model_id}/linked-lantern?modelVersionId={v1.version_id}",
                 f"https://civitai.red/models/{v1.model_id}?modelVersionId={v1.version_id}",
                 f"urn:air:sd1:lora:civitai:{v1.model_id}@{v1.version_id}",
                 f"https://civitai.com/api/download/models/{v1.version_id}"):
        status, grid, label, state, _back, _next = handlers.search(
            "first", text, [], [], "Highest Rated", "AllTime", "PG-13", False, {})
        assert status == "" and "Linked Lantern" in grid and "No models found" not in grid, text
        assert state["open"] == f"{v1.model_id}:{v1.version_id}", text
        details = handlers.open_linked(state, {})
        assert "Linked Lantern" in details[0] and details[4] == "linked_v1.safetensors", text
        assert details[-2]["version_id"] == v1.version_id
        assert details[-1] == state["open"]  # the link counts as the last click: Download acts on it
    state = handlers.search("first", f"https://civitai.green/models/{v1.model_id}/x", [], [], "Highest Rated",
                            "AllTime", "PG-13", False, {})[3]
    assert state["open"] == f"{v1.model_id}:"
    linked = handlers.open_linked(state, {})
    assert linked[-2]["version_id"] == v2.version_id  # the newest, as on the site
    # A card clicked before the link was pasted does not block the download of the linked model.
    said = list(handlers.download(0, "", "", linked[-2], linked[-1]))
    assert "still loading" not in said[-1][0]
    plain = handlers.search("first", "Lantern", [], [], "Highest Rated", "AllTime", "PG-13", False, {})[3]
    assert "open" not in plain and all(isinstance(u, dict) for u in handlers.open_linked(plain, {}))
    missing = handlers.search("first", "https://civitai.com/models/987654321", [], [], "Highest Rated", "AllTime",
                              "PG-13", False, {})
    assert "mw-error" in missing[0] and "could not find" in missing[0]


def test_a_key_saved_after_a_failed_download_is_used_by_the_next_try(make_service, server):
    f = server.add_file(data=b"keyed" * 100, name="keyed.safetensors", model_name="Keyed Unique")
    service, host = make_service(key="")
    first, _ = service.download(f.model_id, f.version_id)
    assert service.queue.wait(first, timeout=30) and service.queue.get(first).status == JobStatus.FAILED
    host.settings_file.save({"model_workbench_civitai_api_key": "test-key"})
    again, _ = service.download(f.model_id, f.version_id)  # the model is cached: no request made on the way
    assert service.queue.wait(again, timeout=30) and service.queue.get(again).status == JobStatus.DONE
    assert [j.id for j in service.queue.snapshot()] == [again]  # the new try took the failed row's place


def test_library_leaves_out_early_access_updates_and_marks_removed_models(make_service, server, tmp_path):
    early = server.add_file(data=b"lamp-v2" * 500, name="lamp_v2.safetensors", model_name="Lamp", version_name="v2",
                            early_access_deadline="2099-01-01T00:00:00.000Z")
    v1 = server.add_file(data=b"lamp-v1" * 500, name="lamp_v1.safetensors", model_name="Lamp", version_name="v1",
                         model_id=early.model_id)
    gone = server.add_file(data=b"gone-model" * 500, name="gone.safetensors", model_name="Gone")
    lora = tmp_path / "models" / "Lora"
    lora.mkdir(parents=True, exist_ok=True)
    (lora / "lamp_v1.safetensors").write_bytes(v1.path.read_bytes())
    (lora / "gone.safetensors").write_bytes(gone.path.read_bytes())
    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    list(handlers.library_scan())
    rows = {r["filename"]: r for r in service.library_rows()}
    assert rows["lamp_v1.safetensors"]["status"] == "matched"  # v2 is Early Access: no update badge (default)
    assert rows["gone.safetensors"]["status"] == "matched"

    host.settings_file.save({"model_workbench_civitai_api_key": "test-key",
                             "model_workbench_updates_skip_early_access": False})
    gone.removed = True
    try:
        status, table = list(handlers.library_scan(True))[-1]  # "Match on Civitai"
        rows = {r["filename"]: r for r in service.library_rows()}
        assert rows["lamp_v1.safetensors"]["status"] == "update_available"
        assert rows["gone.safetensors"]["status"] == "removed" and rows["gone.safetensors"]["civitai_url"] is None
        assert "Removed from Civitai" in table and "mw-error" not in status
        asked = len([r for r in server.requests if r.path == f"/api/v1/models/{gone.model_id}"])
        status, table = list(handlers.library_scan())[-1]  # the next scan does not ask again
        assert len([r for r in server.requests if r.path == f"/api/v1/models/{gone.model_id}"]) == asked
        assert "Removed from Civitai" in table and "mw-error" not in status
    finally:
        gone.removed = False


def test_a_file_without_a_checksum_is_installed_as_unverified(make_service, server):
    f = server.add_file(data=b"no-hash" * 300, name="nohash.safetensors", model_name="Nohash Unique", hashes={})
    service, host = make_service()
    job_id, _ = service.download(f.model_id, f.version_id)
    assert service.queue.wait(job_id, timeout=30)
    job = service.queue.get(job_id)
    assert job.status == JobStatus.DONE and not job.verified
    assert "unverified" in job.message and "no SHA256" in job.message  # the queue item says so
    said = CivitaiHandlers(UiContext(host, standalone=True), service)._job_result(job)
    assert "unverified" in said and "Installed to" not in said
    # A verified one still says plainly where it went.
    g = server.add_file(data=b"hashed" * 300, name="hashed.safetensors", model_name="Hashed Unique")
    job_id, _ = service.download(g.model_id, g.version_id)
    assert service.queue.wait(job_id, timeout=30)
    job = service.queue.get(job_id)
    assert job.verified and "Installed to" in CivitaiHandlers(UiContext(host, standalone=True), service)._job_result(job)


def test_subfolders_and_names_that_would_be_rewritten_are_refused(make_service, server, tmp_path):
    f = server.add_file(data=b"x" * 100, name="escape.safetensors", model_name="Escape Unique")
    service, host = make_service()
    model = service.model(f.model_id)
    for subfolder, filename in (("../escape", ""), ("/tmp/abs-escape", ""), ("", "evil.exe"), ("", "../x")):
        with pytest.raises(ValueError):
            service.plan(model, model.versions[0], None, subfolder, filename)
        with pytest.raises(ValueError):
            service.download(f.model_id, f.version_id, None, subfolder, filename)
    assert service.queue.snapshot() == []
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    state = {"model_id": f.model_id, "version_id": f.version_id, "file_ids": [f.version_id * 10]}
    name, where = handlers.where_changed(0, "", "evil.exe", state)
    assert "must end in .safetensors" in where and "mw-error" in where
    name, where = handlers.where_changed(0, "", "renamed", state)
    assert name == "renamed.safetensors" and "Will be saved to" in where  # the box shows the name really used
    said = list(handlers.download(0, "../escape", "", state))
    assert "leaves the model folder" in said[-1][0] and service.queue.snapshot() == []


def test_download_refuses_details_of_another_model_than_the_one_clicked(make_service, server, tmp_path):
    a = server.add_file(data=b"a" * 100, name="alpha_click.safetensors", model_name="Alpha Click")
    b = server.add_file(data=b"b" * 100, name="beta_click.safetensors", model_name="Beta Click")
    service, host = make_service()
    handlers = CivitaiHandlers(UiContext(host, standalone=True), service)
    state = handlers.open_model(str(a.model_id), {})[-1]
    said = list(handlers.download(0, "", "", state, str(b.model_id)))  # B clicked, A's details still shown
    assert "still loading" in said[-1][0] and service.queue.snapshot() == []
    assert not (tmp_path / "models" / "Lora" / "alpha_click.safetensors").exists()
