"""The base model of a version (issue 14, item 2) over the tiny host with two tiny checkpoints: choosing one
loads it and the version's config records it; a training whose base model is not loaded asks first, and
switches when told to; previews switch to the version's base model for the grid and back."""

from __future__ import annotations

import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.host import HostFeatureUnavailable
from model_workbench.preview.plan import GenerationSettings
from model_workbench.routes import PREFIX, build_router
from model_workbench.training import projects
from model_workbench.training.base_checkpoint import BaseModelMismatch, choose_base_model, saved_base_model
from model_workbench.training.checkpoint import load_lora
from model_workbench.training.previews import PreviewService
from model_workbench.training.session import FINISHED, TrainingService, service_for
from tests.support.tiny_host import tiny_host, tiny_host_with_project

FAST = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 1e-2, "max_train_epochs": 1,
        "train_batch_size": 2, "seed": 3, "save_precision": "float", "mixed_precision": "no", "enable_bucket": False}
A, B = "tiny-a.safetensors", "tiny-b.safetensors"


@pytest.fixture
def host(tmp_path):
    host = tiny_host_with_project(tmp_path, checkpoints=(A, B))
    projects.create_version(host.data_dir(), "cat", "v1", {})
    return host


def weights(host) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in host.model.root.state_dict().items()}


def test_choosing_a_base_model_loads_it_and_the_config_records_name_and_hash(host):
    first = weights(host)
    assert [c.name for c in host.checkpoints()] == [A, B]
    assert host.loaded_checkpoint().name == A
    assert host.checkpoints()[1].sha256 is None  # like WebUI: hashed when it loads

    loaded = choose_base_model(host, host.data_dir(), "cat", "v1", B)

    assert host.loads == [B] and host.loaded_checkpoint().name == B
    assert any(not torch.equal(v, first[k]) for k, v in weights(host).items())  # other weights, really
    stored = projects.read_version_config(host.data_dir(), "cat", "v1")
    assert stored["base_model"] == B and len(stored["base_model_sha256"]) == 64
    assert stored["base_model_hash"] == stored["base_model_sha256"][:10] == loaded.shorthash
    assert stored["pretrained_model_name_or_path"].endswith(B)
    # Choosing the loaded one again loads nothing.
    choose_base_model(host, host.data_dir(), "cat", "v1", loaded.title)
    assert host.loads == [B]


def test_choosing_an_unknown_checkpoint_or_on_a_host_without_any_says_so(tmp_path, host):
    with pytest.raises(ValueError, match="missing.safetensors is not in WebUI's checkpoint list"):
        choose_base_model(host, host.data_dir(), "cat", "v1", "missing.safetensors")
    plain = tiny_host(tmp_path / "plain")  # no checkpoints: as the standalone app
    assert plain.checkpoints() == [] and plain.loaded_checkpoint() is None
    with pytest.raises(HostFeatureUnavailable, match="Switching the checkpoint needs Stable Diffusion WebUI"):
        plain.load_checkpoint(host.checkpoints()[0])


def test_a_training_whose_base_model_is_not_loaded_asks_then_switches_and_trains(host):
    choose_base_model(host, host.data_dir(), "cat", "v1", B)
    # The user loads A elsewhere (WebUI's own dropdown): v1 still wants B.
    host.load_checkpoint(host.checkpoints()[0])
    service = TrainingService(host)
    with pytest.raises(BaseModelMismatch, match=rf"cat / v1 trains on {B} \[[0-9a-f]{{10}}\], but {A} \[") as caught:
        service.start("cat", "v1", FAST)
    assert caught.value.checkpoint.name == B and service.status()["state"] == "idle"
    assert host.loads == [B, A]

    service.start("cat", "v1", FAST, switch_base_model=True)
    assert service.wait(60)
    assert service.status()["state"] == FINISHED, service.status()["message"]
    assert host.loads == [B, A, B] and host.loaded_checkpoint().name == B
    stored = projects.read_version_config(host.data_dir(), "cat", "v1")
    assert stored["base_model"] == B
    # The LoRA's metadata names its base model as sd-scripts does.
    meta = load_lora(service.status()["checkpoints"][-1]).metadata
    assert meta["ss_sd_model_name"] == B and meta["ss_new_sd_model_hash"] == stored["base_model_sha256"]


def test_a_version_without_a_base_model_records_the_loaded_one_when_it_trains(host):
    service = TrainingService(host)
    service.start("cat", "v1", FAST)
    assert service.wait(60) and service.status()["state"] == FINISHED
    stored = projects.read_version_config(host.data_dir(), "cat", "v1")
    assert stored["base_model"] == A and stored["base_model_sha256"] == host.loaded_checkpoint().sha256
    assert host.loads == []


def test_previews_render_on_the_versions_base_model_and_switch_back(host):
    service = TrainingService(host)
    choose_base_model(host, host.data_dir(), "cat", "v1", B)
    service.start("cat", "v1", FAST)
    assert service.wait(60) and service.status()["state"] == FINISHED
    host.load_checkpoint(host.checkpoints()[0])  # the user went back to A
    before = weights(host)
    rendered_on: list[str] = []
    generate = host.generate
    host.generate = lambda *a, **k: (rendered_on.append(host.loaded_checkpoint().name), generate(*a, **k))[1]

    outcome = PreviewService(host).preview_all("cat", "v1", "1", "tinycat", GenerationSettings(steps=2, width=64,
                                                                                                height=64), seed=1)

    assert set(rendered_on) == {B} and outcome.message == ""
    assert host.loads[-2:] == [B, A] and host.loaded_checkpoint().name == A
    assert all(torch.equal(v, before[k]) for k, v in weights(host).items())


def test_previews_say_when_the_base_model_cannot_be_loaded(host):
    service = TrainingService(host)
    service.start("cat", "v1", FAST)
    assert service.wait(60)
    config = projects.read_version_config(host.data_dir(), "cat", "v1")
    projects.write_version_config(host.data_dir(), "cat", "v1", {**config, "base_model": "gone.safetensors",
                                                                  "base_model_hash": "0" * 10,
                                                                  "base_model_sha256": "0" * 64})
    outcome = PreviewService(host).preview_all("cat", "v1", "1", "tinycat", GenerationSettings(steps=2, width=64,
                                                                                                height=64), seed=1)
    assert outcome.message.startswith(f"These previews were rendered on {host.loaded_checkpoint().title}, not on "
                                      "gone.safetensors [0000000000], the base model of v1: gone.safetensors [0000000000] "
                                      "is not in WebUI's checkpoint list.")
    assert outcome.as_dict()["complete"] and host.loads == []


def test_http_train_answers_409_with_the_question_unless_told_to_switch(host):
    app = FastAPI()
    app.include_router(build_router(host))
    client = TestClient(app)
    choose_base_model(host, host.data_dir(), "cat", "v1", B)
    host.load_checkpoint(host.checkpoints()[0])
    body = {"project": "cat", "version": "v1", "config": FAST}
    refused = client.post(PREFIX + "/train", json=body)
    assert refused.status_code == 409 and refused.json()["detail"].startswith(f"cat / v1 trains on {B}")
    assert client.post(PREFIX + "/train", json={**body, "switch_base_model": "yes"}).status_code == 400
    assert client.post(PREFIX + "/train", json={**body, "switch_base_model": True}).status_code == 202
    service = service_for(host)
    assert service.wait(60) and service.status()["state"] == FINISHED
    assert host.loaded_checkpoint().name == B
    assert saved_base_model(projects.read_version_config(host.data_dir(), "cat", "v1")).name == B


def test_http_base_model_route_loads_the_checkpoint_and_saves_it_as_the_versions_base_model(host):
    app = FastAPI()
    app.include_router(build_router(host))
    client = TestClient(app)
    chosen = client.post(PREFIX + "/train/base-model", json={"project": "cat", "version": "v1", "checkpoint": B})
    assert chosen.status_code == 200, chosen.text
    body = chosen.json()
    assert host.loads == [B] and host.loaded_checkpoint().name == B
    stored = projects.read_version_config(host.data_dir(), "cat", "v1")
    assert body == {"title": host.loaded_checkpoint().title, "base_model": B, "base_model_hash": stored["base_model_hash"],
                    "base_model_sha256": stored["base_model_sha256"]}
    assert len(body["base_model_hash"]) == 10
    unknown = client.post(PREFIX + "/train/base-model", json={"project": "cat", "version": "v1", "checkpoint": "nope"})
    assert unknown.status_code == 400 and "nope is not in WebUI's checkpoint list" in unknown.json()["detail"]
    missing = client.post(PREFIX + "/train/base-model", json={"project": "cat", "version": "v9", "checkpoint": A})
    assert missing.status_code == 400 and host.loads == [B]  # nothing loads for a version that does not exist
    assert client.post(PREFIX + "/train/base-model", json={"project": "cat", "version": "v1"}).status_code == 400


def test_http_base_model_route_waits_for_a_running_training(host):
    app = FastAPI()
    app.include_router(build_router(host))
    client = TestClient(app)
    service = service_for(host)
    host.step_delay = 0.3  # still training when the request arrives
    service.start("cat", "v1", {**FAST, "max_train_epochs": 3})
    refused = client.post(PREFIX + "/train/base-model", json={"project": "cat", "version": "v1", "checkpoint": B})
    service.stop()
    assert service.wait(60)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == "Switching the base model waits until the training has finished."
    assert B not in host.loads
