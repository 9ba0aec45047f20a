"""The Train tab's pure pieces: the form's conversions, the HTML it shows, the job runner, the layout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from model_workbench.training.config import TrainingConfig
from model_workbench.training.projects import CheckpointInfo
from model_workbench.ui import train_html as H
from model_workbench.ui.train_form import all_fields, default_values, parse_values, values_for
from model_workbench.ui.train_jobs import Job


def test_every_engine_parameter_is_in_the_form_once():
    names = [f.name for f in all_fields()]
    assert len(names) == len(set(names))
    # Paths and names are the project's; the base model is chosen with its own picker above the form.
    left_out = {"pretrained_model_name_or_path", "train_data_dir", "output_dir", "output_name",
                "base_model", "base_model_hash", "base_model_sha256"}
    assert set(names) == set(TrainingConfig.__dataclass_fields__) - left_out


def test_form_values_round_trip_to_a_valid_config():
    fields = all_fields()
    stored = {"network_dim": 8, "unet_lr": 5e-5, "sample_prompts": ["a", "b"], "seed": 7}
    values = values_for(fields, stored)
    parsed = parse_values(fields, values)
    assert parsed["network_dim"] == 8 and parsed["unet_lr"] == 5e-5 and parsed["seed"] == 7
    assert parsed["sample_prompts"] == ["a", "b"] and parsed["text_encoder_lr"] is None
    TrainingConfig(**parsed).validate()
    assert default_values()["network_dim"] == 32


def test_form_names_the_field_of_a_bad_number():
    fields = all_fields()
    values = values_for(fields, {})
    values[[f.name for f in fields].index("noise_offset")] = "a lot"
    with pytest.raises(ValueError, match=r"Noise offset \(noise_offset\): 'a lot' is not a number"):
        parse_values(fields, values)


def test_checkpoint_table_escapes_and_has_a_preview_button_per_row(tmp_path):
    infos = [CheckpointInfo(path=Path("/p/<x>_v1-000001.safetensors"), epoch=1, size=2048, mtime=0, steps=10,
                            loss=0.12345),
             CheckpointInfo(path=Path("/p/y_v1-000002.safetensors"), epoch=2, size=5 * 1024 * 1024, mtime=0)]
    table = H.checkpoint_table(infos)
    assert table.count("modelWorkbench.trainPreview") == 2 and "<x>" not in table and "&lt;x&gt;" in table
    assert "0.1235" in table and "2.0 KB" in table and "5.0 MB" in table
    assert "no checkpoints yet" in H.checkpoint_table([])


def test_progress_and_loss_plot():
    status = {"state": "running", "project": "cat", "version": "v1", "step": 5, "total_steps": 10, "epoch": 1,
              "total_epochs": 2, "average_loss": 0.25, "it_per_s": 3.0, "message": "Epoch 1/2"}
    html = H.progress_html(status)
    assert "Running" in html and "step 5 of 10" in html and "width:50.0%" in html
    assert "No training has run" in H.progress_html({"state": "idle"})
    svg = H.loss_svg([(1, 1.0, 1.0), (2, 0.5, 0.75), (3, 0.25, 0.58)])
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and "1.000" in svg and "0.250" in svg
    assert "appears when training starts" in H.loss_svg([])


def test_cell_details_show_the_parameters():
    entry = {"label": "epoch 2, weight 0.8", "checkpoint": {"path": "/x/cat_v1-000002.safetensors"},
             "weight": 0.8, "prompt": "<b>cat</b>", "seed": 5, "status": "done", "infotext": "cat\nSeed: 5"}
    html = H.cell_details(entry)
    assert "cat_v1-000002.safetensors" in html and "&lt;b&gt;cat" in html and "Seed: 5" in html
    assert "Click a cell" in H.cell_details(None)
    # A baseline cell names no checkpoint: the row's file is not applied there.
    base = H.cell_details({**entry, "label": "epoch 2, no LoRA", "weight": 0.0, "baseline": True})
    assert "cat_v1-000002.safetensors" not in base and "the base model alone" in base


def test_job_reports_progress_result_and_errors():
    def work(report):
        report(1, 2, "half")
        time.sleep(0.3)
        return "done"

    job = Job(work)
    seen = [(j.done, j.label) for j in job.poll(0.05)]
    assert (1, "half") in seen and job.result == "done" and job.error is None
    failing = Job(lambda report: 1 / 0)
    list(failing.poll(0.05))
    assert isinstance(failing.error, ZeroDivisionError)


def test_the_tab_builds_with_a_host_that_cannot_train(tmp_path):
    from model_workbench.standalone import StandaloneConfig, StandaloneHost
    from model_workbench.ui.app import build_standalone_blocks

    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    demo = build_standalone_blocks(host)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"mw_train_start", "mw_train_grid_run", "mw_train_preview_hidden", "mw_train_publish"} <= ids


def test_conv_and_continue_fields_round_trip(tmp_path):
    fields = all_fields()
    kinds = {f.name: f.kind for f in fields}
    assert kinds["conv_dim"] == "opt_int" and kinds["conv_alpha"] == "opt_float" and kinds["network_weights"] == "lora_file"
    stored = {"conv_dim": 8, "conv_alpha": 4.0, "network_weights": "/loras/cat.safetensors"}
    parsed = parse_values(fields, values_for(fields, stored))
    assert parsed["conv_dim"] == 8 and parsed["conv_alpha"] == 4.0 and parsed["network_weights"] == "/loras/cat.safetensors"
    off = parse_values(fields, values_for(fields, {}))
    assert off["conv_dim"] is None and off["network_weights"] == ""
    TrainingConfig(**parsed).validate()


def test_continue_from_lists_the_lora_files_of_the_host_folders(tmp_path):
    from model_workbench.training.continue_from import lora_files

    first, second = tmp_path / "Lora", tmp_path / "more"
    (first / "sub").mkdir(parents=True)
    second.mkdir()
    for path in (first / "b.safetensors", first / "sub" / "a.pt", second / "c.ckpt", first / "notes.txt",
                 first / "b.preview.png"):
        path.write_bytes(b"x")
    found = lora_files([first, second, tmp_path / "missing"])
    assert found == [first / "b.safetensors", first / "sub" / "a.pt", second / "c.ckpt"]


def test_preview_when_done_group_round_trips_through_the_version_config(tmp_path):
    from model_workbench.training import projects
    from model_workbench.training.after_preview import KEY, parse_settings
    from model_workbench.ui.train_after_preview import (
        FIELDS,
        overrides_from,
        stored_values,
        with_after_settings,
    )

    root = tmp_path / "data"
    projects.create_project(root, "cat")
    projects.create_version(root, "cat", "v1", {KEY: {"enabled": True, "weights": "0.5, 1", "prompts": ["a", "b"],
                                                      "seed": 9, "width": 64, "height": 64}})
    values = stored_values(root, "cat", "v1")
    shown = dict(zip(FIELDS, values, strict=True))
    assert shown["enabled"] is True and shown["prompts"] == "a\nb" and shown["seed"] == 9 and shown["baseline"]
    # Empty numbers take the defaults, as on the Preview grid tab; the result is what the service accepts.
    shown.update(steps=None, cfg_scale="", prompts=" c \n\n d ")
    settings = overrides_from([shown[name] for name in FIELDS])
    assert settings["prompts"] == ["c", "d"] and settings["steps"] == 20 and settings["cfg_scale"] == 7.0
    assert parse_settings(settings).weights == "0.5, 1"
    assert with_after_settings({"network_dim": 4}, values)[KEY]["enabled"] is True
    # A version without the settings shows the defaults: off, the training resolution.
    projects.create_version(root, "cat", "v2", {})
    default = dict(zip(FIELDS, stored_values(root, "cat", "v2"), strict=True))
    assert default["enabled"] is False and default["width"] == 0


def test_a_version_change_reads_the_version_config_once(tmp_path, monkeypatch):
    """Every section refreshes for the selected version (form, base model, checkpoints, grid, compare,
    publish, after-training preview…); they share one read of its config.json, not one read each."""
    from model_workbench.standalone import StandaloneConfig, StandaloneHost
    from model_workbench.training import projects
    from model_workbench.training.webui_versions import create_kind_version
    from model_workbench.ui import train_tab
    from model_workbench.ui.app import build_standalone_blocks

    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    projects.create_project(host.data_dir(), "cat")
    create_kind_version(host.data_dir(), "cat", "emb", "embedding")
    built: list[train_tab.TrainUi] = []

    class Recorded(train_tab.TrainUi):
        def __init__(self, ctx) -> None:
            super().__init__(ctx)
            built.append(self)

    monkeypatch.setattr(train_tab, "TrainUi", Recorded)
    build_standalone_blocks(host)
    reads: list[tuple[str, str]] = []
    read = projects.read_version_config

    def counted(root, project, version):
        reads.append((project, version))
        return read(root, project, version)

    monkeypatch.setattr(projects, "read_version_config", counted)
    updates = built[0].refresh("cat", "emb")
    assert updates and reads == [("cat", "emb")]


def test_the_webui_form_starts_at_the_cores_defaults():
    import gradio as gr

    from model_workbench.training.webui_fields import fields_to_dict
    from model_workbench.training.webui_kinds import EmbeddingFields, HypernetworkFields
    from model_workbench.ui.train_webui_form import (
        EMBEDDING_NAMES,
        HYPERNETWORK_NAMES,
        TRAINING_NAMES,
        build_webui_form,
    )

    with gr.Blocks():
        f = build_webui_form(["subject_filewords.txt"])
    embedding, hypernetwork = fields_to_dict(EmbeddingFields(name="")), fields_to_dict(HypernetworkFields(name=""))
    for names, data in ((EMBEDDING_NAMES, embedding), (HYPERNETWORK_NAMES, hypernetwork),
                        (TRAINING_NAMES, embedding["training"])):
        for name in names:
            if name not in ("name", "template_file"):
                assert f[name].value == data[name], name
