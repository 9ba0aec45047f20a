"""Issue 14, item 3: sweeps run one after another in a queue that survives a reload and a restart."""

from __future__ import annotations

import json
import time

import pytest

from model_workbench.training import projects
from model_workbench.training.queue import (
    FINISHED,
    INTERRUPTED,
    QUEUE_FILE,
    QUEUED,
    RUNNING,
    QueueError,
    TrainingQueue,
)
from model_workbench.training.session import TrainingService
from model_workbench.training.sweep import SweepError
from tests.support.tiny_host import tiny_host_with_project

FAST = {"resolution": "64", "network_alpha": 4, "max_train_epochs": 1, "train_batch_size": 4, "seed": 3,
        "save_precision": "float", "mixed_precision": "no", "enable_bucket": False, "save_state": True}


@pytest.fixture
def host(tmp_path):
    host = tiny_host_with_project(tmp_path)
    projects.create_version(host.data_dir(), "cat", "v1", {})
    return host


def states(queue: TrainingQueue) -> list[tuple[str, str]]:
    return [(item["version"], item["state"]) for item in queue.items()]


def wait_idle(queue: TrainingQueue, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not queue.is_active():
            return
        time.sleep(0.05)
    raise AssertionError(f"the queue did not finish: {states(queue)}")


def test_a_sweep_creates_its_versions_and_trains_them_one_after_another(host):
    service = TrainingService(host)
    queue = TrainingQueue(service, host.data_dir() / QUEUE_FILE)
    plan, ids = queue.add_sweep("cat", "v1", {**FAST, "learning_rate": "1e-2, 5e-2", "network_dim": "2, 4"})
    assert plan.count == 4 and len(ids) == 4
    names = ["v1-lr0.01-dim2", "v1-lr0.01-dim4", "v1-lr0.05-dim2", "v1-lr0.05-dim4"]
    assert [run.version for run in plan.runs] == names
    # Each version has its own config, written before anything trains.
    stored = projects.read_version_config(host.data_dir(), "cat", "v1-lr0.05-dim2")
    assert stored["learning_rate"] == 0.05 and stored["network_dim"] == 2 and stored["resolution"] == "64"
    assert states(queue)[0] == (names[0], RUNNING) and all(s == QUEUED for _, s in states(queue)[1:])
    wait_idle(queue)
    assert states(queue) == [(name, FINISHED) for name in names]
    checkpoints = projects.project_paths(host.data_dir(), "cat").checkpoints
    for name in names:
        assert (checkpoints / f"cat_{name}-000001.safetensors").is_file()
    assert queue.sweep_versions("cat") == names


def test_refusals_come_before_anything_is_created(host):
    queue = TrainingQueue(TrainingService(host), host.data_dir() / QUEUE_FILE)
    with pytest.raises(SweepError, match="nothing to sweep"):
        queue.add_sweep("cat", "v1", {**FAST, "network_dim": 4})
    with pytest.raises(ValueError, match="multiple of 64"):
        queue.add_sweep("cat", "v1", {**FAST, "network_dim": "2, 4", "resolution": "100"})
    with pytest.raises(SweepError, match="at most 64"):
        queue.add_sweep("cat", "v1", {**FAST, "network_dim": "1,2,3,4,5,6,7,8,9", "seed": "1,2,3,4,5,6,7,8"})
    projects.create_version(host.data_dir(), "cat", "v1-dim4", {})
    with pytest.raises(projects.ProjectError, match="already has a version named 'v1-dim4'"):
        queue.add_sweep("cat", "v1", {**FAST, "network_dim": "2, 4"})
    assert [v.name for v in projects.list_versions(host.data_dir(), "cat")] == ["v1", "v1-dim4"]
    assert queue.items() == []


def test_reorder_and_remove_are_saved(host):
    path = host.data_dir() / QUEUE_FILE
    queue = TrainingQueue(TrainingService(host), path)
    _, ids = queue.add_sweep("cat", "v1", {**FAST, "network_dim": "2, 4, 8"}, start=False)
    queue.move(ids[2], "up")
    queue.move(ids[0], "down")
    queue.move(ids[2], "up")  # already first: stays
    assert [item["version"] for item in queue.items()] == ["v1-dim8", "v1-dim2", "v1-dim4"]
    queue.remove(ids[1])
    assert [item["version"] for item in queue.items()] == ["v1-dim8", "v1-dim2"]
    with pytest.raises(QueueError, match="no queue item 99"):
        queue.remove(99)
    with pytest.raises(QueueError, match="up or down"):
        queue.move(ids[0], "sideways")
    # A reload (a new queue over the same file) shows the same order, still waiting.
    again = TrainingQueue(TrainingService(host), path)
    assert states(again) == [("v1-dim8", QUEUED), ("v1-dim2", QUEUED)]
    assert not again.is_active()


def test_a_restart_marks_the_running_item_interrupted_and_run_resumes_it(host):
    path = host.data_dir() / QUEUE_FILE
    host.step_delay = 0.2
    service = TrainingService(host)
    queue = TrainingQueue(service, path)
    _, ids = queue.add_sweep("cat", "v1", {**FAST, "max_train_epochs": 3, "network_dim": "2, 4"})
    first = projects.project_paths(host.data_dir(), "cat").checkpoints / "cat_v1-dim2-000001.safetensors"
    deadline = time.monotonic() + 60
    while not first.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # The app stops here: the file still says "running"; the next app's queue finds no training running.
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert [item["state"] for item in saved["items"]] == [RUNNING, QUEUED]
    service.stop()
    service.wait(60)
    path.write_text(json.dumps(saved), encoding="utf-8")

    host.step_delay = 0
    first_written = first.stat().st_mtime_ns
    restarted = TrainingQueue(TrainingService(host), path)
    assert states(restarted) == [("v1-dim2", INTERRUPTED), ("v1-dim4", QUEUED)]
    assert "press" in restarted.items()[0]["message"] and not restarted.is_active()
    assert restarted.start()
    assert restarted.items()[0]["resume"] is True  # from the saved state, not from scratch
    wait_idle(restarted)
    assert states(restarted) == [("v1-dim2", FINISHED), ("v1-dim4", FINISHED)]
    assert first.stat().st_mtime_ns == first_written  # epoch 1 was kept, not trained again


def test_stopping_an_item_pauses_the_queue_and_a_running_item_cannot_be_removed(host):
    host.step_delay = 0.2
    service = TrainingService(host)
    queue = TrainingQueue(service, host.data_dir() / QUEUE_FILE)
    _, ids = queue.add_sweep("cat", "v1", {**FAST, "max_train_epochs": 3, "network_dim": "2, 4"})
    with pytest.raises(QueueError, match="is training; stop it"):
        queue.remove(ids[0])
    assert service.stop()
    wait_idle(queue)
    assert states(queue) == [("v1-dim2", INTERRUPTED), ("v1-dim4", QUEUED)]
    queue.remove(ids[0])  # no longer running: it may go
    assert states(queue) == [("v1-dim4", QUEUED)]
