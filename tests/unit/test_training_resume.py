"""Trainer runs on the tiny CPU model that stop, resume and fail: resume equals an uninterrupted
run, an interrupt keeps the last finished epoch valid, an exception leaves the model bit-identical;
plus the progress/sample callbacks and step checkpoints."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from model_workbench.training.checkpoint import file_addnet_hash, load_lora
from model_workbench.training.trainer import Progress, SampleRequest, Trainer
from tests.support.tiny_diffusion import TinyDiffusionModel
from tests.support.tiny_training import assert_same, snapshot, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def test_resume_equals_uninterrupted_run(tmp_path: Path, data: Path) -> None:
    kw = dict(max_train_epochs=3, train_batch_size=2, lr_scheduler="cosine", shuffle_caption=True, flip_aug=True,
              network_dropout=0.1)
    full = Trainer(TinyDiffusionModel(), tiny_config(tmp_path / "a", data, **kw)).run()
    assert full.steps == 6

    calls = {"n": 0}

    def stop_after_three() -> bool:
        return calls["n"] >= 3

    def count(p: Progress) -> None:
        calls["n"] = p.step

    cfg_b = tiny_config(tmp_path / "b", data, **kw)
    first = Trainer(TinyDiffusionModel(), cfg_b, on_progress=count, stop=stop_after_three).run()
    assert first.interrupted and first.steps == 3 and first.epochs_done == 1
    assert "step 3" in first.message and "tiny-000001" in first.message
    second = Trainer(TinyDiffusionModel(), cfg_b).run(resume=True)
    assert second.steps == 6 and not second.interrupted
    assert [p.name for p in second.checkpoints] == [p.name for p in full.checkpoints]
    a, b = load_lora(full.checkpoints[-1]).tensors, load_lora(second.checkpoints[-1]).tensors
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert second.losses == pytest.approx(full.losses, rel=1e-4)


def test_resume_refuses_changed_settings_or_missing_state(tmp_path: Path, data: Path) -> None:
    with pytest.raises(ValueError, match="no saved training state"):
        Trainer(TinyDiffusionModel(), tiny_config(tmp_path, data)).run(resume=True)
    Trainer(TinyDiffusionModel(), tiny_config(tmp_path, data, max_train_epochs=1)).run()
    with pytest.raises(ValueError, match="network_dim"):
        Trainer(TinyDiffusionModel(), tiny_config(tmp_path, data, max_train_epochs=1, network_dim=2)).run(resume=True)


def test_interrupt_keeps_last_finished_epoch_file_valid(tmp_path: Path, data: Path) -> None:
    stop = threading.Event()

    def progress(p: Progress) -> None:
        if p.step == 3:  # epoch 1 = 2 steps; stop during epoch 2
            stop.set()

    model = TinyDiffusionModel()
    before = snapshot(model.root)
    cfg = tiny_config(tmp_path, data, max_train_epochs=4, train_batch_size=2)
    result = Trainer(model, cfg, on_progress=progress, stop=stop).run()
    assert result.interrupted and result.steps == 3 and result.epochs_done == 1
    assert [p.name for p in result.checkpoints] == ["tiny-000001.safetensors"]
    loaded = load_lora(result.checkpoints[0])
    assert loaded.metadata["ss_epoch"] == "1"
    assert loaded.metadata["sshs_model_hash"] == file_addnet_hash(result.checkpoints[0])
    names = sorted(p.name for p in Path(cfg.output_dir).iterdir())
    assert names == ["tiny-000001.safetensors", "tiny-state"]
    assert_same(before, snapshot(model.root))


def test_exception_mid_step_leaves_model_bit_identical(tmp_path: Path, data: Path) -> None:
    model = TinyDiffusionModel()
    model.root.cond_stage_model.requires_grad_(True)  # odd flags must come back as they were
    model.root.model.train()
    before = snapshot(model.root)
    original = model.predict
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        out = original(*args, **kwargs)
        if calls["n"] == 3:
            raise RuntimeError("CUDA out of memory (simulated)")
        return out

    model.predict = failing  # type: ignore[method-assign]
    cfg = tiny_config(tmp_path, data, max_train_epochs=5, gradient_checkpointing=True)
    with pytest.raises(RuntimeError, match="simulated"):
        Trainer(model, cfg).run()
    assert_same(before, snapshot(model.root))
    assert not model.gradient_checkpointing


def test_callbacks_progress_and_samples(tmp_path: Path, data: Path) -> None:
    model = TinyDiffusionModel()
    progress: list[Progress] = []
    samples: list[tuple[int, int, list[str], bool]] = []

    def on_sample(req: SampleRequest) -> None:
        image = model.sample(req.prompts[0], seed=req.seed, steps=3)
        samples.append((req.epoch, req.step, req.prompts, image.size == (64, 64) and not req.network.training))

    cfg = tiny_config(tmp_path, data, max_train_epochs=4, train_batch_size=2, sample_every_n_epochs=2,
                 sample_prompts=["tinycat, square"], lr_scheduler="linear", lr_warmup_steps=2,
                 save_every_n_epochs=2)
    result = Trainer(model, cfg, on_progress=progress.append, on_sample=on_sample).run()
    assert [p.step for p in progress] == list(range(1, 9))
    assert {p.total_steps for p in progress} == {8} and progress[-1].epoch == 4
    assert progress[0].lr == pytest.approx(5e-3) and progress[1].lr == pytest.approx(1e-2)
    assert progress[-1].lr == pytest.approx(0.0) and all(p.it_per_s > 0 for p in progress)
    # A sample before the first step (the base model), then every second epoch.
    assert samples == [(0, 0, ["tinycat, square"], True), (2, 4, ["tinycat, square"], True),
                       (4, 8, ["tinycat, square"], True)]
    assert [p.name for p in result.checkpoints] == ["tiny-000002.safetensors", "tiny-000004.safetensors"]


def test_step_checkpoints_and_max_steps(tmp_path: Path, data: Path) -> None:
    cfg = tiny_config(tmp_path, data, max_train_epochs=None, max_train_steps=5, train_batch_size=2,
                 save_every_n_epochs=None, save_every_n_steps=2)
    result = Trainer(TinyDiffusionModel(), cfg).run()
    assert result.steps == 5
    assert [p.name for p in result.checkpoints] == [
        "tiny-step00000002.safetensors", "tiny-step00000004.safetensors", "tiny-000003.safetensors"]




def test_gradient_accumulation_counts_optimizer_steps_and_resumes(tmp_path: Path, data: Path) -> None:
    kw = dict(train_batch_size=1, gradient_accumulation_steps=3, max_train_epochs=2, lr_scheduler="linear")
    full = Trainer(TinyDiffusionModel(), tiny_config(tmp_path / "a", data, **kw)).run()
    assert full.steps == 4  # 4 batches an epoch → ceil(4 / 3) = 2 optimizer steps, × 2 epochs
    meta = load_lora(full.checkpoints[-1]).metadata
    assert meta["ss_gradient_accumulation_steps"] == "3" and meta["ss_total_batch_size"] == "3"
    assert meta["ss_num_batches_per_epoch"] == "4" and meta["ss_max_train_steps"] == "4"

    cfg = tiny_config(tmp_path / "b", data, **kw)
    seen: list[Progress] = []  # stop once the first optimizer step (3 micro-batches) is done
    first = Trainer(TinyDiffusionModel(), cfg, stop=lambda: bool(seen), on_progress=seen.append).run()
    assert first.interrupted and first.steps == 1
    second = Trainer(TinyDiffusionModel(), cfg).run(resume=True)
    a, b = load_lora(full.checkpoints[-1]).tensors, load_lora(second.checkpoints[-1]).tensors
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
