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
