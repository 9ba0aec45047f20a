"""Issue 14, item 3 over HTTP: POST a sweep, GET the queue, reorder and remove its items."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.routes import PREFIX, build_router
from model_workbench.training import projects
from tests.support.tiny_host import tiny_host_with_project

FAST = {"resolution": "64", "network_alpha": 4, "max_train_epochs": 1, "train_batch_size": 4, "seed": 3,
        "save_precision": "float", "enable_bucket": False}


@pytest.fixture
def client(tmp_path):
    host = tiny_host_with_project(tmp_path)
    projects.create_version(host.data_dir(), "cat", "v1", {})
    app = FastAPI()
    app.include_router(build_router(host))
    return TestClient(app)


def test_a_sweep_is_planned_queued_and_trained(client):
    body = {"project": "cat", "version": "v1", "config": {**FAST, "learning_rate": [0.01, 0.05], "network_dim": "2, 4"}}
    planned = client.post(PREFIX + "/train/sweep", json={**body, "dry_run": True})
    assert planned.status_code == 200, planned.text
    names = ["v1-lr0.01-dim2", "v1-lr0.01-dim4", "v1-lr0.05-dim2", "v1-lr0.05-dim4"]
    assert [v["version"] for v in planned.json()["versions"]] == names
    assert planned.json()["queue"] == [] and planned.json()["summary"].startswith("4 versions will be trained: ")
    assert client.get(PREFIX + "/train/queue").json() == {"active": False, "items": []}

    queued = client.post(PREFIX + "/train/sweep", json=body)
    assert queued.status_code == 202, queued.text
    ids = queued.json()["queue"]
    assert len(ids) == 4 and queued.json()["versions"][1]["settings"]["network_dim"] == 4
    deadline = time.monotonic() + 120
    while client.get(PREFIX + "/train/queue").json()["active"] and time.monotonic() < deadline:
        time.sleep(0.1)
    items = client.get(PREFIX + "/train/queue").json()["items"]
    assert [(i["id"], i["version"], i["state"]) for i in items] == [(n, v, "finished") for n, v in zip(ids, names, strict=True)]


def test_reorder_remove_and_refusals(client):
    body = {"project": "cat", "version": "v1", "config": {**FAST, "network_dim": [2, 4, 8]}, "start": False}
    ids = client.post(PREFIX + "/train/sweep", json=body).json()["queue"]
    assert client.post(PREFIX + "/train/queue/move", json={"id": ids[2], "direction": "up"}).status_code == 200
    removed = client.post(PREFIX + "/train/queue/remove", json={"id": ids[0]})
    assert [i["version"] for i in removed.json()["items"]] == ["v1-dim8", "v1-dim4"]
    missing = client.post(PREFIX + "/train/queue/remove", json={"id": 99})
    assert missing.status_code == 404 and "no queue item 99" in missing.json()["detail"]
    sideways = client.post(PREFIX + "/train/queue/move", json={"id": ids[1], "direction": "left"})
    assert sideways.status_code == 400 and "up or down" in sideways.json()["detail"]
    assert client.post(PREFIX + "/train/queue/move", json={"id": "one"}).status_code == 400

    too_many = client.post(PREFIX + "/train/sweep", json={
        "project": "cat", "version": "v1", "config": {"seed": list(range(65)), "network_dim": "2, 4"}})
    assert too_many.status_code == 400 and "130 versions; at most 64" in too_many.json()["detail"]
    single = client.post(PREFIX + "/train/sweep", json={"project": "cat", "version": "v1", "config": FAST})
    assert single.status_code == 400 and "nothing to sweep" in single.json()["detail"]
    taken = client.post(PREFIX + "/train/sweep", json=body)
    assert taken.status_code == 400 and "already has a version named 'v1-dim2'" in taken.json()["detail"]
    prompts = client.post(PREFIX + "/train/sweep", json={
        "project": "cat", "version": "v1", "dry_run": True,
        "config": {"network_dim": [16, 32], "sample_prompts": ["a cat, sitting", "a dog"]}})
    assert [v["settings"]["sample_prompts"] for v in prompts.json()["versions"]] == [["a cat, sitting", "a dog"]] * 2
