"""Issue 10, item 8: a host that cannot train or tag refuses up front (no "Training started" that fails a
second later), and the Train tab can show a version's last run after the app restarted."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.host import HostFeatureUnavailable
from model_workbench.routes import PREFIX, build_router
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from model_workbench.training import projects
from model_workbench.training.session import FINISHED, IDLE, INTERRUPTED, TrainingService
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_host import tiny_host_with_project

FAST = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 1e-2, "max_train_epochs": 2,
        "train_batch_size": 2, "seed": 3, "save_precision": "float", "enable_bucket": False}


@pytest.fixture
def standalone(tmp_path):
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "plain" / "models", data_dir=tmp_path / "plain" / "data"))
    paths = projects.create_project(host.data_dir(), "cat")
    make_concept_folder(paths.dataset, n=2, repeats=1)
    return host


@pytest.fixture
def tiny(tmp_path):
    return tiny_host_with_project(tmp_path)


def test_post_train_is_409_with_the_reason_where_the_host_cannot_train(standalone):
    app = FastAPI()
    app.include_router(build_router(standalone))
    client = TestClient(app)
    answer = client.post(PREFIX + "/train", json={"project": "cat", "version": "v1"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"].startswith("Training a LoRA needs Stable Diffusion WebUI")
    # Nothing started, so nothing failed a second later.
    assert client.get(PREFIX + "/train/status").json()["state"] == IDLE


def test_the_service_refuses_before_it_creates_or_starts_anything(standalone):
    service = TrainingService(standalone)
    with pytest.raises(HostFeatureUnavailable, match="Training a LoRA needs Stable Diffusion WebUI"):
        service.start("cat", "v7", {})
    assert not projects.project_paths(standalone.data_dir(), "cat").version_dir("v7").exists()
    assert service.status()["state"] == IDLE and service._thread is None


def test_what_each_host_can_do_is_said_in_a_sentence(standalone, tiny):
    assert "Training a LoRA needs Stable Diffusion WebUI" in standalone.training_refusal()
    assert "Tagging images needs Stable Diffusion WebUI" in standalone.tagging_refusal()
    assert tiny.training_refusal() is None and tiny.tagging_refusal() is None


def test_a_finished_run_is_shown_after_the_app_restarted(tiny):
    first = TrainingService(tiny)
    first.start("cat", "v1", FAST)
    assert first.wait(60) and first.status()["state"] == FINISHED
    restarted = TrainingService(tiny)  # a new process knows nothing of the run but what is on disk
    assert restarted.status()["state"] == IDLE
    shown = restarted.status_for("cat", "v1")
    assert shown["state"] == FINISHED and shown["message"].startswith("Training finished: 2 checkpoints")
    assert (shown["project"], shown["version"], shown["epoch"], shown["total_epochs"]) == ("cat", "v1", 2, 2)
    assert restarted.status_for("cat", "v2")["state"] == IDLE  # never trained
    assert any("Training finished" in line for line in restarted.log_for("cat"))


def test_a_run_the_app_never_finished_reads_as_interrupted(tiny):
    tiny.step_delay = 0.2
    running = TrainingService(tiny)
    running.start("cat", "v1", FAST)
    try:
        assert running.status_for("cat", "v1")["state"] == "running"
        other = TrainingService(tiny)  # as after a restart: the record says running, no thread runs it
        shown = other.status_for("cat", "v1")
        assert shown["state"] == INTERRUPTED and "stopped during this training" in shown["message"]
    finally:
        running.stop()
        running.wait(60)


def _blocks_by_id(host):
    from model_workbench.ui.app import build_standalone_blocks

    demo = build_standalone_blocks(host)
    return {getattr(b, "elem_id", None): b for b in demo.blocks.values()}


def test_start_and_tag_buttons_are_not_primary_where_they_cannot_work(standalone):
    blocks = _blocks_by_id(standalone)
    for elem_id in ("mw_train_start", "mw_train_resume", "mw_train_tag_run"):
        assert blocks[elem_id].variant == "secondary" and blocks[elem_id].interactive is False, elem_id
    assert "Training a LoRA needs Stable Diffusion WebUI" in blocks["mw_train_unavailable"].value
    assert "Tagging images needs Stable Diffusion WebUI" in blocks["mw_train_tag_unavailable"].value


def test_start_and_tag_buttons_are_primary_where_they_work(tiny):
    blocks = _blocks_by_id(tiny)
    for elem_id in ("mw_train_start", "mw_train_tag_run"):
        assert blocks[elem_id].variant == "primary" and blocks[elem_id].interactive is not False, elem_id
    assert "mw_train_unavailable" not in blocks and "mw_train_tag_unavailable" not in blocks


def test_a_refusal_the_host_notice_already_says_is_not_said_twice(tmp_path):
    # reForge / Forge Classic: the reason is one of the host's notes, shown at the top of the tab.
    import dataclasses

    reason = "Training is not offered on reForge: its model engine (ldm_patched) has not been proven."

    class NotedHost(StandaloneHost):
        def capabilities(self):
            return dataclasses.replace(super().capabilities(), can_generate=True, notes=(reason,))

        def training_refusal(self):
            return reason

    host = NotedHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    blocks = _blocks_by_id(host)
    assert reason in blocks["mw_train_notice"].value
    assert reason not in blocks["mw_train_unavailable"].value
    assert blocks["mw_train_start"].interactive is False
