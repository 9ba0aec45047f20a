"""Previews on the tiny host: one checkpoint, the 2 epochs × 3 weights grid, versions side by side, publish."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from model_workbench.host import GenerationRequest, ModelKind
from model_workbench.preview.manifest import cell_at, read_manifest
from model_workbench.preview.plan import GenerationSettings
from model_workbench.training import projects
from model_workbench.training.presets import PRESETS, apply_preset, preset_config, preset_names
from model_workbench.training.previews import PreviewService, cell_image, latest_cell_for
from model_workbench.training.publish import publish_checkpoint
from model_workbench.training.session import TrainingService
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_host import tiny_host

FAST = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 5e-2, "max_train_epochs": 2,
        "train_batch_size": 4, "seed": 3, "save_precision": "float", "enable_bucket": False}
SETTINGS = GenerationSettings(steps=3, cfg_scale=5.0, width=64, height=64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project with two trained versions (v1, v2), 2 epochs each."""
    host = tiny_host(tmp_path_factory.mktemp("previews"))
    paths = projects.create_project(host.data_dir(), "cat")
    make_concept_folder(paths.dataset, n=4, repeats=2, concept="tinycat")
    service = TrainingService(host)
    for version, seed in (("v1", 3), ("v2", 4)):
        service.start("cat", version, {**FAST, "seed": seed})
        assert service.wait(60)
        assert service.status()["state"] == "finished", service.status()["message"]
    return host, paths


def test_preview_all_is_a_labelled_two_by_three_grid_with_a_manifest(trained):
    host, paths = trained
    progress = []
    outcome = PreviewService(host).preview_all("cat", "v1", "0.5, 1.0, 1.5", "tinycat, square", SETTINGS, seed=7,
                                               progress=lambda d, t, label: progress.append((d, t, label)))
    manifest = read_manifest(outcome.saved.manifest_path)
    assert outcome.saved.png_path.parent == paths.grids and manifest["complete"]
    assert manifest["axes"]["x"]["labels"] == ["weight 0.5", "weight 1", "weight 1.5"]
    assert manifest["axes"]["y"]["labels"] == ["epoch 1", "epoch 2"]
    assert len(manifest["cells"]) == 6 and {c["seed"] for c in manifest["cells"]} == {7}
    assert progress[0] == (0, 6, "epoch 1, weight 0.5") and progress[-1] == (6, 6, "")
    with Image.open(outcome.saved.png_path) as grid:
        assert "weight 1.5" in grid.info["parameters"] or "<lora:" in grid.info["parameters"]
        # Label space on the left and top: the grid is bigger than its 3 × 2 cells of 64 px.
        assert grid.width > 3 * 64 and grid.height > 2 * 64
    # The weights change the picture: the LoRA really is applied, at the cell's weight.
    cells = {(c["y"], c["x"]): c for c in manifest["cells"]}
    low, high = (cell_image(outcome.saved.manifest_path, cells[(1, i)]) for i in (0, 2))
    assert low.tobytes() != high.tobytes()
    # A click on a cell finds it again.
    left, top, right, bottom = cells[(1, 2)]["box"]
    assert cell_at(manifest, (left + right) / 2, (top + bottom) / 2)["weight"] == 1.5
    summary = outcome.as_dict()
    assert summary["grid"] == str(outcome.saved.png_path) and summary["cells"][0]["status"] == "done"
    assert "<lora:cat_v1-000001-" in summary["cells"][0]["infotext"]


def test_single_checkpoint_preview_with_a_batch(trained):
    host, paths = trained
    ckpt = projects.list_checkpoints(host.data_dir(), "cat", "v1")[1].path
    outcome = PreviewService(host).preview_checkpoint("cat", "v1", str(ckpt), "0.6, 1", "tinycat", SETTINGS,
                                                      seed=1, batch_side=2)
    manifest = outcome.saved.manifest
    assert [c["weight"] for c in manifest["cells"]] == [0.6, 1.0]
    assert len(manifest["cells"][0]["image_boxes"]) == 4 and manifest["title"] == ckpt.stem


def test_preview_stops_between_cells_and_keeps_what_finished(trained):
    host, _ = trained
    labels = []

    class StopAfterTwo:
        def is_set(self):
            return len(labels) > 2

    outcome = PreviewService(host).preview_all("cat", "v1", "0.5, 1, 1.5", "tinycat", SETTINGS, seed=2,
                                               progress=lambda d, t, label: labels.append(label), stop=StopAfterTwo())
    statuses = [c["status"] for c in outcome.saved.manifest["cells"]]
    assert statuses.count("done") == 2 and statuses.count("missing") == 4
    assert outcome.saved.png_path.is_file() and "interrupted" in outcome.message


def test_compare_versions_side_by_side(trained):
    host, _ = trained
    outcome = PreviewService(host).compare("cat", ["v1", "v2"], "1", "tinycat", SETTINGS, seed=5)
    manifest = outcome.saved.manifest
    assert [v["name"] for v in manifest["versions"]] == ["v1", "v2"]
    assert {c["version"] for c in manifest["cells"]} == {"v1", "v2"} and manifest["complete"]
    assert all(c["checkpoint"]["epoch"] == 2 for c in manifest["cells"])


def test_previews_refuse_while_training_and_explain_bad_input(trained):
    host, _ = trained
    with pytest.raises(RuntimeError, match="training is running"):
        PreviewService(host, is_training=lambda: True).preview_all("cat", "v1", "1", "x", SETTINGS)
    with pytest.raises(ValueError, match="not a weight"):
        PreviewService(host).preview_all("cat", "v1", "heavy", "x", SETTINGS)
    with pytest.raises(ValueError, match="does not belong"):
        PreviewService(host).preview_checkpoint("cat", "v1", "/tmp/other.safetensors", "1", "x", SETTINGS)


def test_publish_copies_with_preview_and_user_metadata_then_refreshes(trained):
    host, paths = trained
    ckpt = projects.list_checkpoints(host.data_dir(), "cat", "v1")[-1].path
    PreviewService(host).preview_checkpoint("cat", "v1", str(ckpt), "0.5, 0.8", "tinycat", SETTINGS, seed=1)
    result = publish_checkpoint(host, "cat", "v1", str(ckpt), 0.8, "tinycat, square")
    lora_dir = host.model_folders()[ModelKind.LORA][0]
    assert result.path == lora_dir / "cat" / ckpt.name and result.name == ckpt.stem
    assert result.path.read_bytes() == ckpt.read_bytes()
    meta = json.loads(result.metadata_path.read_text(encoding="utf-8"))
    assert meta["activation text"] == "tinycat, square" and meta["preferred weight"] == 0.8
    assert meta["sd version"] == "SD1" and "cat" in meta["description"]
    assert result.preview_path == lora_dir / "cat" / f"{ckpt.stem}.preview.png"
    with Image.open(result.preview_path) as preview:
        assert preview.size == (64, 64)
    assert host.refreshed[-1] == ModelKind.LORA

    # Publishing again keeps what the user wrote and takes the new weight.
    meta["description"] = "my own words"
    result.metadata_path.write_text(json.dumps(meta), encoding="utf-8")
    again = publish_checkpoint(host, "cat", "v1", str(ckpt), 1.0, "tinycat")
    meta = json.loads(again.metadata_path.read_text(encoding="utf-8"))
    assert again.path == result.path and meta["description"] == "my own words" and meta["preferred weight"] == 1.0
    with pytest.raises(ValueError, match="not one of"):
        publish_checkpoint(host, "cat", "v2", str(ckpt), 1.0, "")


@pytest.mark.parametrize("name", preset_names())
def test_presets_are_valid_configs(name):
    config = preset_config(name)
    assert config.resolution_wh()[0] in (512, 1024)
    assert apply_preset(name, {"sample_prompts": ["x"]})["sample_prompts"] == ["x"]


def test_presets_cover_sd15_and_sdxl_character_and_style():
    assert set(PRESETS) == {"SD1.5 character", "SD1.5 style", "SDXL character", "SDXL style"}
    assert PRESETS["SDXL style"]["resolution"] == "1024" and PRESETS["SD1.5 style"]["flip_aug"]
    with pytest.raises(ValueError, match="no preset named"):
        apply_preset("nope")


def test_preview_all_with_a_baseline_column_renders_the_base_model_once(trained):
    host, _ = trained
    before = len(host.generated)
    outcome = PreviewService(host).preview_all("cat", "v1", "1", "tinycat", SETTINGS, seed=11, baseline=True)
    manifest = outcome.saved.manifest
    assert manifest["axes"]["x"]["labels"] == ["no LoRA", "weight 1"] and manifest["complete"]
    base = [c for c in manifest["cells"] if c["x"] == 0]
    assert [c["baseline"] for c in manifest["cells"]] == [True, False, True, False]
    assert all(c["weight"] == 0.0 and "<lora:" not in c["infotext"] for c in base)
    assert [c["baseline"] for c in outcome.as_dict()["cells"]] == [True, False, True, False]
    # Two rows share one baseline render: 2 LoRA cells + 1 baseline.
    assert len(host.generated) - before == 3
    # The baseline cell is exactly what the host renders for the prompt alone.
    plain = host.generate(GenerationRequest(prompt="tinycat", seed=11, steps=3, cfg_scale=5.0, width=64, height=64))
    for entry in base:
        assert cell_image(outcome.saved.manifest_path, entry).tobytes() == plain.images[0].convert("RGB").tobytes()
    lora = cell_image(outcome.saved.manifest_path, manifest["cells"][1])
    assert lora.tobytes() != plain.images[0].convert("RGB").tobytes()
    # A publish preview is never the baseline, even for a weight near 0.
    path, entry = latest_cell_for(outcome.saved.png_path.parent, manifest["cells"][1]["checkpoint"]["path"], 0.0)
    assert path == outcome.saved.manifest_path and entry["weight"] == 1.0
