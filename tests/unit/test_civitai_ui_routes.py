"""The HTTP routes the webui tier (and scripts) use: queue a Civitai download, poll the queue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.civitai_service import service_for
from model_workbench.routes import build_router
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from tests.support.fake_civitai import FakeCivitai


@contextmanager
def routes_of(host: StandaloneHost) -> Iterator[TestClient]:
    """``host``'s routes on a test client; its download queue is closed afterwards."""
    app = FastAPI()
    app.include_router(build_router(host))
    try:
        yield TestClient(app)
    finally:
        service_for(host).close()


@contextmanager
def api_for(srv: FakeCivitai, tmp_path) -> Iterator[tuple[StandaloneHost, TestClient]]:
    """A standalone host on the fake Civitai, with its routes on a test client."""
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data",
                                           civitai_url=srv.url))
    host.settings_file.save({"model_workbench_civitai_api_key": "test-key"})
    with routes_of(host) as client:
        yield host, client


def test_download_through_the_api_and_poll_the_queue(tmp_path):
    with FakeCivitai(api_key="test-key") as srv:
        f = srv.add_file(data=b"api-lora" * 500, name="api_lora.safetensors")
        with api_for(srv, tmp_path) as (host, client):
            answer = client.post("/model-workbench/v1/civitai/download", json={"version_id": f.version_id})
            assert answer.status_code == 200, answer.text
            assert answer.json()["path"] == str(tmp_path / "models" / "Lora" / "api_lora.safetensors")
            job_id = answer.json()["job_id"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                jobs = {j["id"]: j for j in client.get("/model-workbench/v1/civitai/queue").json()["jobs"]}
                if jobs[job_id]["status"] not in ("queued", "resolving", "downloading", "verifying"):
                    break
                time.sleep(0.1)
            assert jobs[job_id]["status"] == "done", jobs[job_id]["message"]
            assert (tmp_path / "models" / "Lora" / "api_lora.json").is_file()
            missing = client.post("/model-workbench/v1/civitai/download", json={"version_id": 987654321})
            assert missing.status_code == 404 and "could not find" in missing.json()["detail"]

def test_a_download_into_another_folder_or_as_a_program_is_a_400(tmp_path):
    with FakeCivitai(api_key="test-key") as srv:
        f = srv.add_file(data=b"api-lora" * 500, name="api_lora.safetensors")
        with api_for(srv, tmp_path) as (host, client):
            for body, words in (({"subfolder": "../escape"}, "leaves the model folder"),
                                ({"subfolder": "/tmp/abs-escape"}, "absolute path"),
                                ({"filename": "evil.exe"}, "must end in .safetensors")):
                answer = client.post("/model-workbench/v1/civitai/download", json={"version_id": f.version_id, **body})
                assert answer.status_code == 400 and words in answer.json()["detail"], answer.text
            assert client.get("/model-workbench/v1/civitai/queue").json()["jobs"] == []
            assert not (tmp_path / "models" / "Lora").exists() or not any((tmp_path / "models").rglob("*.part"))

def test_one_version_under_two_names_is_two_jobs_and_both_paths_are_written(tmp_path):
    with FakeCivitai(api_key="test-key") as srv:
        srv.faults.throttle_bps = 1 << 20
        f = srv.add_file(data=b"twice" * 100_000, name="twice.safetensors")
        with api_for(srv, tmp_path) as (host, client):
            answers = [client.post("/model-workbench/v1/civitai/download",
                                   json={"version_id": f.version_id, "filename": name})
                       for name in ("first_name", "second_name")]
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            first, second = (a.json() for a in answers)
            assert first["job_id"] != second["job_id"]
            assert service_for(host).queue.wait(timeout=30)
            for answer in (first, second):
                assert answer["path"].endswith((".safetensors",)) and Path(answer["path"]).is_file(), answer
            assert {Path(a["path"]).name for a in (first, second)} == {"first_name.safetensors",
                                                                        "second_name.safetensors"}
            again = client.post("/model-workbench/v1/civitai/download",
                                json={"version_id": f.version_id, "filename": "first_name"})
            assert again.status_code == 200 and again.json()["path"] == first["path"]

def test_a_file_id_the_version_does_not_have_is_400_naming_it(tmp_path):
    with FakeCivitai(api_key="test-key") as srv:
        f = srv.add_file(data=b"x" * 1000, name="only.safetensors")
        with api_for(srv, tmp_path) as (host, client):
            answer = client.post("/model-workbench/v1/civitai/download",
                                 json={"version_id": f.version_id, "file_id": 424242})
            assert answer.status_code == 400, answer.text
            assert "424242" in answer.json()["detail"] and str(f.version_id) in answer.json()["detail"]
            assert service_for(host).queue.snapshot() == []
            ok = client.post("/model-workbench/v1/civitai/download",
                             json={"version_id": f.version_id, "file_id": f.file_id})
            assert ok.status_code == 200 and ok.json()["path"].endswith("only.safetensors")

def test_another_version_to_the_path_being_written_is_409_with_a_sentence(tmp_path):
    with FakeCivitai(api_key="test-key") as srv:
        srv.faults.throttle_bps = 1 << 20
        a = srv.add_file(data=b"a" * 1_000_000, name="a.safetensors")
        b = srv.add_file(data=b"b" * 1_000, name="b.safetensors")
        with api_for(srv, tmp_path) as (host, client):
            first = client.post("/model-workbench/v1/civitai/download", json={"version_id": a.version_id})
            clash = client.post("/model-workbench/v1/civitai/download",
                                json={"version_id": b.version_id, "filename": "a"})
            assert first.status_code == 200 and clash.status_code == 409, clash.text
            assert "a.safetensors is already being downloaded" in clash.json()["detail"]
            assert len(service_for(host).queue.snapshot()) == 1

def test_install_a_hub_file_through_the_api_into_the_shared_queue(tmp_path):
    from tests.support.fake_hub import FakeHub

    with FakeHub() as hub:
        host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data"))
        host.settings_file.save({"model_workbench_hf_endpoint": hub.url})
        with routes_of(host) as client:
            answer = client.post("/model-workbench/v1/huggingface/install",
                                 json={"repo_id": "fake-org/castle-lora", "path": "castle_lora.safetensors"})
            assert answer.status_code == 200, answer.text
            path = Path(answer.json()["path"])
            assert path == tmp_path / "models" / "Lora" / "castle_lora.safetensors"  # the header's kind: a LoRA
            service_for(host).queue.wait(answer.json()["job_id"], timeout=30)
            jobs = client.get("/model-workbench/v1/civitai/queue").json()["jobs"]
            assert [j["status"] for j in jobs] == ["done"] and path.with_suffix(".json").is_file()
            gated = client.post("/model-workbench/v1/huggingface/install",
                                json={"repo_id": "fake-org/gated-lora", "path": "gated_lora.safetensors"})
            assert gated.status_code == 401 and "set a token in Settings" in gated.json()["detail"]
            missing = client.post("/model-workbench/v1/huggingface/install",
                                  json={"repo_id": "fake-org/castle-lora", "path": "nope.safetensors"})
            assert missing.status_code == 404
