"""TrainingService on the tiny host: a real two-epoch training, its status and log, stop and resume."""

from __future__ import annotations

import json

import pytest
import torch

from model_workbench.training import projects
from model_workbench.training.session import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    TrainingBusy,
    TrainingService,
    build_config,
    service_for,
)
from tests.support.tiny_host import tiny_host, tiny_host_with_project

FAST = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 1e-2, "max_train_epochs": 2,
        "train_batch_size": 2, "seed": 3, "save_precision": "float", "mixed_precision": "no", "enable_bucket": False}


@pytest.fixture
def host(tmp_path):
    return tiny_host_with_project(tmp_path)


def test_two_epochs_write_named_checkpoints_status_log_and_restore_the_model(host):
    before = {k: v.clone() for k, v in host.model.root.state_dict().items()}
    service = TrainingService(host)
    snapshot = service.start("cat", "v1", FAST)
    assert snapshot["state"] == "running"
    assert service.wait(60)
    status = service.status()
    assert status["state"] == FINISHED, status["message"]
    paths = projects.project_paths(host.data_dir(), "cat")
    names = sorted(p.name for p in paths.checkpoints.glob("*.safetensors"))
    assert names == ["cat_v1-000001.safetensors", "cat_v1-000002.safetensors"]
    assert status["checkpoints"] == [str(paths.checkpoints / n) for n in names]
    assert (status["step"], status["total_steps"], status["epoch"], status["total_epochs"]) == (4, 4, 2, 2)
    assert status["loss"] is not None and status["project"] == "cat" and status["version"] == "v1"
    # The version records what was trained; the checkpoint table gets steps and loss per epoch.
    stored = projects.read_version_config(host.data_dir(), "cat", "v1")
    assert stored["network_dim"] == 4 and "output_dir" not in stored
    infos = projects.list_checkpoints(host.data_dir(), "cat", "v1")
    assert [(i.epoch, i.steps) for i in infos] == [(1, 2), (2, 4)] and all(i.loss is not None for i in infos)
    assert len(service.losses()) == 4
    log = paths.train_log.read_text(encoding="utf-8")
    assert "cat_v1-000002.safetensors" in log and "Training finished" in log
    assert any("Saved cat_v1-000001" in line for line in service.log_lines())
    assert host.last_progress is not None and host.last_progress.done == 4
    for k, v in host.model.root.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_stop_keeps_finished_epochs_and_resume_completes(host):
    host.step_delay = 0.3
    service = TrainingService(host)
    service.start("cat", "v1", {**FAST, "max_train_epochs": 3, "train_batch_size": 4})
    paths = projects.project_paths(host.data_dir(), "cat")
    first = paths.checkpoints / "cat_v1-000001.safetensors"
    for _ in range(200):
        if first.exists():
            break
        service.wait(0.05)
    assert service.stop()
    assert service.wait(60)
    status = service.status()
    assert status["state"] == INTERRUPTED and "interrupted" in status["message"]
    assert first.exists() and not (paths.checkpoints / "cat_v1-000003.safetensors").exists()
    assert service.can_resume("cat", "v1")

    host.step_delay = 0
    service.start("cat", "v1", resume=True)
    assert service.wait(60)
    status = service.status()
    assert status["state"] == FINISHED, status["message"]
    assert status["step"] == 3 and (paths.checkpoints / "cat_v1-000003.safetensors").exists()


def test_one_training_at_a_time_and_clear_failures(host):
    host.step_delay = 0.2
    service = TrainingService(host)
    service.start("cat", "v1", FAST)
    with pytest.raises(TrainingBusy, match="already running"):
        service.start("cat", "v2", FAST)
    service.stop()
    service.wait(60)
    with pytest.raises(ValueError, match="Unknown training settings: nonsense"):
        service.start("cat", "v3", {"nonsense": 1})
    with pytest.raises(ValueError, match="multiple of 64"):
        service.start("cat", "v3", {**FAST, "resolution": "100"})
    with pytest.raises(projects.ProjectError, match="no project named 'dog'"):
        service.start("dog", "v1", FAST)
    with pytest.raises(ValueError, match="no saved state to resume"):
        service.start("cat", "fresh", FAST, resume=True)


def test_empty_dataset_fails_with_a_sentence(tmp_path):
    host = tiny_host(tmp_path)
    projects.create_project(host.data_dir(), "empty")
    service = TrainingService(host)
    service.start("empty", "v1", FAST)
    assert service.wait(30)
    status = service.status()
    assert status["state"] == FAILED and "No usable images" in status["message"]


def test_samples_every_epoch_through_the_host(host):
    service = TrainingService(host)
    service.sample_settings.steps = 2
    service.start("cat", "v1", {**FAST, "sample_prompts": ["tinycat, square"], "sample_every_n_epochs": 1})
    assert service.wait(60)
    samples = service.status()["samples"]
    assert [s.rsplit("/", 1)[-1] for s in samples] == ["cat_v1-000000-00.png", "cat_v1-000001-00.png",
                                                       "cat_v1-000002-00.png"]  # 000000: before the first step
    assert host.generated[0].prompt == "tinycat, square" and host.generated[0].width == 64


def test_build_config_points_at_the_project_and_ignores_path_overrides(host):
    projects.create_version(host.data_dir(), "cat", "v9", {"network_dim": 8, "output_dir": "/elsewhere"})
    config = build_config(host.data_dir(), "cat", "v9", {"output_name": "x", **FAST})
    paths = projects.project_paths(host.data_dir(), "cat")
    assert config.output_dir == str(paths.checkpoints) and config.train_data_dir == str(paths.dataset)
    assert config.output_name == "cat_v9" and config.network_dim == 4
    json.dumps(config.to_dict())


def test_one_service_per_host(host, tmp_path):
    assert service_for(host) is service_for(host)
    assert service_for(host) is not service_for(tiny_host(tmp_path / "other"))
