"""The contract's HTTP routes over the tiny host, through FastAPI's TestClient."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.routes import PREFIX, build_router
from model_workbench.training import projects
from model_workbench.training.session import service_for
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_host import tiny_host

FAST = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 5e-2, "max_train_epochs": 2,
        "train_batch_size": 4, "seed": 3, "save_precision": "float", "enable_bucket": False}


@pytest.fixture
def client_host(tmp_path):
    host = tiny_host(tmp_path)
    app = FastAPI()
    app.include_router(build_router(host))
    return TestClient(app), host


def wait_state(client, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(PREFIX + "/train/status").json()
        if status["state"] != "running":
            return status
        time.sleep(0.1)
    raise AssertionError("training did not end")


def test_status_names_the_data_dir(client_host):
    client, host = client_host
    body = client.get(PREFIX + "/status").json()
    assert body["data_dir"] == str(host.data_dir()) and body["can_train"] is True


def test_projects_create_conflict_and_bad_name(client_host):
    client, _ = client_host
    assert client.post(PREFIX + "/projects", json={"name": "猫"}).json() == {"name": "猫"}
    assert client.post(PREFIX + "/projects", json={"name": "猫"}).status_code == 409
    bad = client.post(PREFIX + "/projects", json={"name": "a/b"})
    assert bad.status_code == 400 and "must not contain '/'" in bad.json()["detail"]
    assert client.post(PREFIX + "/projects", json=["x"]).status_code == 400


def test_train_preview_publish_flow(client_host):
    client, host = client_host
    client.post(PREFIX + "/projects", json={"name": "cat"})
    make_concept_folder(projects.project_paths(host.data_dir(), "cat").dataset, n=4, repeats=1)
    assert client.get(PREFIX + "/train/status").json()["state"] == "idle"
    bad = client.post(PREFIX + "/train", json={"project": "cat", "version": "v1", "config": {"resolution": "77"}})
    assert bad.status_code == 400 and "multiple of 64" in bad.json()["detail"]

    started = client.post(PREFIX + "/train", json={"project": "cat", "version": "v1", "config": FAST})
    assert started.status_code == 202 and started.json() == {"state": "running"}
    status = wait_state(client)
    assert status["state"] == "finished", status["message"]
    assert [p.rsplit("/", 1)[-1] for p in status["checkpoints"]] == ["cat_v1-000001.safetensors",
                                                                      "cat_v1-000002.safetensors"]
    assert {"step", "total_steps", "epoch", "total_epochs", "loss", "message", "project", "version"} <= status.keys()

    preview = client.post(PREFIX + "/preview", json={
        "project": "cat", "version": "v1", "checkpoints": None, "weights": "0.5, 1.0, 1.5", "prompt": "tinycat",
        "seed": 11, "steps": 2, "width": 64, "height": 64, "cfg_scale": 5, "sampler_name": "Euler a"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["grid"].endswith(".png") and body["manifest"].endswith(".json") and len(body["cells"]) == 6
    assert {c["status"] for c in body["cells"]} == {"done"} and body["cells"][0]["weight"] == 0.5

    published = client.post(PREFIX + "/publish", json={"project": "cat", "version": "v1",
                                                       "checkpoint": status["checkpoints"][-1], "weight": 0.8,
                                                       "trigger_words": "tinycat"})
    assert published.status_code == 200, published.text
    assert published.json()["name"] == "cat_v1-000002"
    assert published.json()["path"].endswith("Lora/cat/cat_v1-000002.safetensors")


def test_train_conflict_and_stop(client_host):
    client, host = client_host
    client.post(PREFIX + "/projects", json={"name": "cat"})
    make_concept_folder(projects.project_paths(host.data_dir(), "cat").dataset, n=4, repeats=1)
    host.step_delay = 0.3
    assert client.post(PREFIX + "/train", json={"project": "cat", "version": "v1", "config": FAST}).status_code == 202
    again = client.post(PREFIX + "/train", json={"project": "cat", "version": "v2", "config": FAST})
    assert again.status_code == 409 and "already running" in again.json()["detail"]
    busy = client.post(PREFIX + "/preview", json={"project": "cat", "version": "v1", "weights": "1", "prompt": "x"})
    assert busy.status_code == 409
    assert client.post(PREFIX + "/train/stop").status_code == 200
    assert wait_state(client)["state"] in ("interrupted", "finished")
    assert service_for(host).status()["state"] == client.get(PREFIX + "/train/status").json()["state"]


def test_preview_and_publish_explain_bad_requests(client_host):
    client, _ = client_host
    client.post(PREFIX + "/projects", json={"name": "cat"})
    missing = client.post(PREFIX + "/preview", json={"project": "cat", "version": "v1", "weights": "1", "prompt": "x"})
    assert missing.status_code == 400 and "no version named 'v1'" in missing.json()["detail"]
    nofile = client.post(PREFIX + "/publish", json={"project": "cat", "version": "v1", "checkpoint": "/nope.safetensors"})
    assert nofile.status_code == 400 and "does not exist" in nofile.json()["detail"]


def test_lora_check_is_not_available_without_webui(client_host):
    client, _ = client_host
    response = client.get(PREFIX + "/lora-check", params={"path": "/x.safetensors"})
    assert response.status_code == 501 and "needs Stable Diffusion WebUI" in response.json()["detail"]


def test_train_with_preview_after_training_reports_the_grid_in_the_status(client_host):
    client, host = client_host
    client.post(PREFIX + "/projects", json={"name": "cat"})
    make_concept_folder(projects.project_paths(host.data_dir(), "cat").dataset, n=4, repeats=1)
    after = {"enabled": True, "weights": [0.5, 1], "prompts": "tinycat", "seed": 5, "steps": 2, "width": 64,
             "height": 64}
    bad = client.post(PREFIX + "/train", json={"project": "cat", "version": "v1",
                                               "config": {**FAST, "preview_after_training": {**after, "seed": "x"}}})
    assert bad.status_code == 400 and "config.preview_after_training.seed" in bad.json()["detail"]
    started = client.post(PREFIX + "/train", json={"project": "cat", "version": "v1",
                                                   "config": {**FAST, "preview_after_training": after}})
    assert started.status_code == 202, started.text
    status = wait_state(client, timeout=90)
    assert status["state"] == "finished", status["message"]
    preview = status["preview"]
    assert preview["state"] == "done" and preview["grid"].endswith(".png") and preview["cells"] == 6, preview
    # Preview all takes the baseline column on request too.
    body = client.post(PREFIX + "/preview", json={"project": "cat", "version": "v1", "weights": "1", "prompt": "x",
                                                  "seed": 1, "steps": 2, "width": 64, "height": 64,
                                                  "baseline": True}).json()
    assert [c["baseline"] for c in body["cells"]] == [True, False, True, False]
