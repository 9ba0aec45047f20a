"""Preview after training on the tiny host: the version's ``preview_after_training`` settings render the
grid of the run's checkpoints (a baseline column first) when the training ends or is stopped with a
checkpoint, and a sample before the first step is saved when sampling is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_workbench.host import GenerationRequest
from model_workbench.preview.manifest import read_manifest
from model_workbench.training import projects
from model_workbench.training.after_preview import KEY, parse_settings
from model_workbench.training.previews import cell_image
from model_workbench.training.session import FINISHED, INTERRUPTED, TrainingService, build_config
from tests.support.tiny_host import tiny_host_with_project

FAST = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 5e-2, "max_train_epochs": 2,
        "train_batch_size": 4, "seed": 3, "save_precision": "float", "mixed_precision": "no", "enable_bucket": False}
PREVIEW = {"enabled": True, "weights": "0.5, 1", "prompts": ["tinycat"], "seed": 7, "steps": 2, "cfg_scale": 5.0,
           "width": 64, "height": 64}


@pytest.fixture
def host(tmp_path):
    return tiny_host_with_project(tmp_path)


def wait_for(path: Path, service: TrainingService) -> None:
    for _ in range(400):
        if path.exists():
            return
        service.wait(0.05)
    raise AssertionError(f"{path.name} never appeared")


def test_a_finished_training_renders_the_grid_of_its_checkpoints_with_a_baseline_first(host):
    service = TrainingService(host)
    service.start("cat", "v1", {**FAST, KEY: PREVIEW})
    assert service.wait(90)
    status = service.status()
    assert status["state"] == FINISHED, status["message"]
    preview = status["preview"]
    assert preview["state"] == "done", preview
    grid, manifest_path = Path(preview["grid"]), Path(preview["manifest"])
    assert grid.is_file() and grid.parent == projects.project_paths(host.data_dir(), "cat").grids
    manifest = read_manifest(manifest_path)
    assert manifest["complete"] and manifest["axes"]["x"]["labels"] == ["no LoRA", "weight 0.5", "weight 1"]
    assert manifest["axes"]["y"]["labels"] == ["epoch 1", "epoch 2"] and {c["seed"] for c in manifest["cells"]} == {7}
    assert preview["cells"] == 6 and preview["done"] == 6
    # The baseline is the base model alone: the same pixels as a plain render of the prompt.
    plain = host.generate(GenerationRequest(prompt="tinycat", seed=7, steps=2, cfg_scale=5.0, width=64, height=64))
    base = next(c for c in manifest["cells"] if c["baseline"])
    assert cell_image(manifest_path, base).tobytes() == plain.images[0].convert("RGB").tobytes()
    # The settings live in the version's config, so any later training of it previews too; the last run
    # (read after a restart) keeps the grid.
    stored = projects.read_version_config(host.data_dir(), "cat", "v1")
    assert stored[KEY]["enabled"] is True and stored[KEY]["weights"] == "0.5, 1" and stored["network_dim"] == 4
    assert service.status_for("cat", "v1")["preview"]["grid"] == str(grid)
    assert "preview grid" in " ".join(service.log_lines()).lower()


def test_stored_settings_preview_a_training_started_without_them(host):
    projects.create_version(host.data_dir(), "cat", "v2", {**FAST, KEY: {**PREVIEW, "weights": "1"}})
    service = TrainingService(host)
    service.start("cat", "v2", {"max_train_epochs": 1})
    assert service.wait(90)
    preview = service.status()["preview"]
    assert preview["state"] == "done" and preview["cells"] == 2, preview


def test_a_stopped_training_with_a_checkpoint_previews_it(host):
    host.step_delay = 0.3
    service = TrainingService(host)
    service.start("cat", "v1", {**FAST, "max_train_epochs": 3, "train_batch_size": 1, KEY: PREVIEW})
    paths = projects.project_paths(host.data_dir(), "cat")
    wait_for(paths.checkpoints / "cat_v1-000001.safetensors", service)
    assert service.stop()
    assert service.wait(90)
    host.step_delay = 0
    status = service.status()
    assert status["state"] == INTERRUPTED, status["message"]
    assert status["preview"]["state"] == "done", status["preview"]
    manifest = read_manifest(status["preview"]["manifest"])
    assert manifest["axes"]["y"]["labels"] == ["epoch 1"] and manifest["complete"]


def test_a_training_stopped_before_any_checkpoint_renders_no_grid(host):
    host.step_delay = 0.3
    service = TrainingService(host)
    service.start("cat", "v1", {**FAST, KEY: PREVIEW})
    assert service.stop()
    assert service.wait(90)
    host.step_delay = 0
    status = service.status()
    assert status["state"] == INTERRUPTED and not status["checkpoints"]
    assert status["preview"]["state"] == "skipped" and "no checkpoint" in status["preview"]["message"]
    grids = projects.project_paths(host.data_dir(), "cat").grids
    assert not list(grids.glob("*.png")) if grids.is_dir() else True


def test_stop_during_the_preview_keeps_the_finished_cells(host):
    service = TrainingService(host)
    calls = []
    real = host.generate

    def generate(request, progress=None, stop=None):
        calls.append(request)
        if len(calls) == 2:
            service.stop()  # the user presses Stop while the grid renders
        return real(request, progress, stop)

    host.generate = generate
    service.start("cat", "v1", {**FAST, KEY: PREVIEW})
    assert service.wait(90)
    status = service.status()
    assert status["state"] == FINISHED and status["preview"]["state"] == "stopped", status["preview"]
    manifest = read_manifest(status["preview"]["manifest"])
    assert not manifest["complete"] and 0 < sum(c["status"] == "done" for c in manifest["cells"]) < 6


def test_preview_off_renders_nothing(host):
    service = TrainingService(host)
    service.start("cat", "v1", {**FAST, "max_train_epochs": 1, KEY: {**PREVIEW, "enabled": False}})
    assert service.wait(90)
    status = service.status()
    assert status["state"] == FINISHED and status["preview"] is None
    assert projects.read_version_config(host.data_dir(), "cat", "v1")[KEY]["enabled"] is False


def test_a_sample_before_the_first_step_is_the_base_model(host):
    service = TrainingService(host)
    service.sample_settings.steps = 2
    service.start("cat", "v1", {**FAST, "sample_prompts": ["tinycat, square"], "sample_every_n_epochs": 1})
    assert service.wait(90)
    samples = [Path(s) for s in service.status()["samples"]]
    assert [s.name for s in samples] == ["cat_v1-000000-00.png", "cat_v1-000001-00.png", "cat_v1-000002-00.png"]
    plain = host.generate(GenerationRequest(prompt="tinycat, square", seed=3, steps=2, width=64, height=64))
    from PIL import Image
    with Image.open(samples[0]) as first:
        assert first.convert("RGB").tobytes() == plain.images[0].convert("RGB").tobytes()


def test_bad_settings_are_refused_with_the_field_named(host):
    service = TrainingService(host)
    with pytest.raises(ValueError, match="config.preview_after_training.steps"):
        service.start("cat", "v1", {**FAST, KEY: {**PREVIEW, "steps": "many"}})
    with pytest.raises(ValueError, match="not a weight"):
        service.start("cat", "v1", {**FAST, KEY: {**PREVIEW, "weights": "heavy"}})
    with pytest.raises(ValueError, match="colour"):
        service.start("cat", "v1", {**FAST, KEY: {**PREVIEW, "colour": "red"}})
    with pytest.raises(ValueError, match="100x64 is not valid"):
        service.start("cat", "v1", {**FAST, KEY: {**PREVIEW, "width": 100}})
    assert not service.is_running()
    # The key is ours, not kohya's: build_config neither refuses it nor passes it to the trainer.
    assert not hasattr(build_config(host.data_dir(), "cat", "v1", {KEY: PREVIEW}), KEY)
    settings = parse_settings({"enabled": True, "prompts": "a\n\nb", "weights": [0.5, 1]})
    assert settings.prompts == ["a", "b"] and settings.weights == "0.5, 1" and settings.baseline
