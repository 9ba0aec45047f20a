"""The trainer on the tiny CPU model: it learns, its files reproduce the trained forward when
applied the WebUI way, resume equals an uninterrupted run, interrupts and exceptions leave
valid files and an untouched model, and the options run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model_workbench.training.apply import applied_lora
from model_workbench.training.checkpoint import file_addnet_hash, load_lora
from model_workbench.training.trainer import Trainer, TrainingDiverged
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_diffusion import TinyDiffusionModel, single_thread
from tests.support.tiny_training import assert_same, snapshot, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def fixed_inputs(model: TinyDiffusionModel, trainer: Trainer):
    ds = trainer._prepare_dataset()
    latents = model.encode_images(torch.stack([item.pixels for item in ds.items]))
    captions = [item.caption for item in ds.items]
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(123))
    t = torch.tensor([50, 200, 400, 600])
    a = model.alphas_cumprod[t].view(-1, 1, 1, 1)
    return a.sqrt() * latents + (1 - a).sqrt() * noise, t, captions, noise


def predict(model: TinyDiffusionModel, inputs) -> tuple[torch.Tensor, float]:
    noisy, t, captions, noise = inputs
    with torch.no_grad():
        pred = model.predict(noisy, t, model.encode_captions(captions))
    return pred, torch.nn.functional.mse_loss(pred, noise).item()


def test_overfits_and_webui_style_apply_reproduces_the_trained_forward(tmp_path: Path, data: Path) -> None:
    model = TinyDiffusionModel()
    before_state = snapshot(model.root)
    trainer = Trainer(model, tiny_config(tmp_path, data, max_train_epochs=30, save_every_n_epochs=None))
    inputs = fixed_inputs(model, trainer)
    _, loss_before = predict(model, inputs)
    result = trainer.run()
    assert result.steps == 30 and not result.interrupted
    assert [p.name for p in result.checkpoints] == ["tiny-000030.safetensors"]
    assert_same(before_state, snapshot(model.root))  # training left the base model untouched

    # the trained forward, with the network injected as during training
    state = torch.load(trainer.state_dir / "state.pt", weights_only=True)["network"]
    from model_workbench.training.network import LoRANetwork

    net = LoRANetwork(model.root, "sd1", rank=8, alpha=8)
    net.load_state_dict(state)
    net.eval()
    with net:
        trained_pred, trained_loss = predict(model, inputs)
    assert trained_loss < 0.75 * loss_before, (loss_before, trained_loss)

    # the same file applied as WebUI does (W + up·down·alpha/rank·multiplier)
    with applied_lora(model.root, "sd1", str(result.checkpoints[-1])) as unmatched:
        assert unmatched == []
        merged_pred, merged_loss = predict(model, inputs)
    torch.testing.assert_close(merged_pred, trained_pred, rtol=1e-4, atol=1e-4)
    assert_same(before_state, snapshot(model.root))  # weights restored exactly

    # fp16 files (the default) reproduce it too, within fp16 rounding
    half = tiny_config(tmp_path, data, save_precision="fp16", output_name="half", max_train_epochs=1)
    Trainer(model, half).run()
    half_file = Path(half.output_dir) / "half-000001.safetensors"
    with applied_lora(model.root, "sd1", str(half_file)):
        half_pred, _ = predict(model, inputs)
    net16 = LoRANetwork(model.root, "sd1", rank=8, alpha=8)
    net16.load_state_dict(torch.load(Path(half.output_dir) / "half-state" / "state.pt", weights_only=True)["network"])
    with net16:
        full_pred, _ = predict(model, inputs)
    torch.testing.assert_close(half_pred, full_pred, rtol=1e-2, atol=1e-2)


def test_files_metadata_and_hash(tmp_path: Path, data: Path) -> None:
    model = TinyDiffusionModel()
    cfg = tiny_config(tmp_path, data, max_train_epochs=2, caption_dropout_rate=0.1, clip_skip=2, min_snr_gamma=5.0)
    result = Trainer(model, cfg).run()
    assert [p.name for p in result.checkpoints] == ["tiny-000001.safetensors", "tiny-000002.safetensors"]
    loaded = load_lora(result.checkpoints[-1])
    assert all(isinstance(v, str) for v in loaded.metadata.values())
    meta = loaded.metadata
    assert meta["ss_epoch"] == "2" and meta["ss_steps"] == "2" and meta["ss_num_epochs"] == "2"
    assert meta["ss_output_name"] == "tiny-000002" and meta["modelspec.title"] == "tiny"
    assert meta["ss_seed"] == "1" and meta["ss_clip_skip"] == "2" and meta["ss_min_snr_gamma"] == "5.0"
    assert meta["ss_num_train_images"] == "4" and meta["ss_num_batches_per_epoch"] == "1"
    assert meta["sshs_model_hash"] == file_addnet_hash(result.checkpoints[-1])
    keys = loaded.module_keys()
    assert len(keys) == 60 and all(k.startswith(("lora_unet_", "lora_te_")) for k in keys)
    assert loaded.tensors["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"].shape == (8, 32, 1, 1)


def test_zero_learning_rate_freezes_a_part(tmp_path: Path, data: Path) -> None:
    model = TinyDiffusionModel()
    unet_only = Trainer(model, tiny_config(tmp_path, data, max_train_epochs=1, text_encoder_lr=0, output_name="u")).run()
    assert all(k.startswith("lora_unet_") for k in load_lora(unet_only.checkpoints[-1]).module_keys())
    te_only = Trainer(model, tiny_config(tmp_path, data, max_train_epochs=1, unet_lr=0, output_name="t")).run()
    assert all(k.startswith("lora_te_") for k in load_lora(te_only.checkpoints[-1]).module_keys())
    with pytest.raises(ValueError, match="nothing would be trained"):
        Trainer(model, tiny_config(tmp_path, data, unet_lr=0, text_encoder_lr=0)).run()


@pytest.mark.parametrize("kw", [
    dict(noise_offset=0.1, min_snr_gamma=5.0),
    dict(cache_latents=False, flip_aug=True, random_crop=True, shuffle_caption=True, keep_tokens=1),
    dict(enable_bucket=True, min_bucket_reso=64, max_bucket_reso=256, resolution="128", network_dropout=0.1,
         rank_dropout=0.1, module_dropout=0.1),
    dict(mixed_precision="bf16"),  # no GPU: trains in fp32 and says so
])
def test_options_train(tmp_path: Path, kw: dict) -> None:
    data = make_concept_folder(tmp_path / "data", n=4, sizes=[(128, 128), (192, 64), (64, 192), (96, 96)])
    result = Trainer(TinyDiffusionModel(), tiny_config(tmp_path, data, max_train_epochs=2, train_batch_size=2, **kw)).run()
    assert result.steps >= 2 and all(torch.isfinite(torch.tensor(result.losses)))
    if "mixed_precision" in kw:
        assert any("needs a GPU" in p for p in result.problems)
    if kw.get("enable_bucket"):
        info = load_lora(result.checkpoints[-1]).metadata["ss_bucket_info"]
        assert "[192, 64]" in info and "[64, 192]" in info and "[128, 128]" in info


def test_v_prediction_and_gradient_checkpointing_match(tmp_path: Path, data: Path) -> None:
    with pytest.raises(ValueError, match="v_parameterization"):
        Trainer(TinyDiffusionModel(prediction_type="v"), tiny_config(tmp_path, data)).run()
    plain = Trainer(TinyDiffusionModel(prediction_type="v"),
                    tiny_config(tmp_path / "p", data, v_parameterization=True, max_train_epochs=2)).run()
    ckpt = Trainer(TinyDiffusionModel(prediction_type="v"),
                   tiny_config(tmp_path / "c", data, v_parameterization=True, max_train_epochs=2,
                          gradient_checkpointing=True)).run()
    assert ckpt.losses == pytest.approx(plain.losses, rel=1e-5)
    meta = load_lora(plain.checkpoints[-1]).metadata
    assert meta["modelspec.prediction_type"] == "v" and meta["ss_base_model_version"] == "sd_v1_v"


def test_preview_changes_with_lora_weight(tmp_path: Path, data: Path) -> None:
    import numpy as np

    model = TinyDiffusionModel()
    result = Trainer(model, tiny_config(tmp_path, data, max_train_epochs=20, save_every_n_epochs=None)).run()
    images = []
    for weight in (0.0, 0.5, 1.0):
        with applied_lora(model.root, "sd1", str(result.checkpoints[-1]), multiplier=weight):
            images.append(np.asarray(model.sample("tinycat, square", seed=3, steps=6), dtype=np.float32))
    assert np.abs(images[0] - images[1]).mean() > 1.0
    assert np.abs(images[1] - images[2]).mean() > 1.0
    again = np.asarray(model.sample("tinycat, square", seed=3, steps=6), dtype=np.float32)
    assert np.array_equal(again, images[0])  # deterministic, and the weights were restored


def test_a_diverging_run_stops_with_a_sentence_and_saves_no_broken_file(tmp_path: Path, data: Path) -> None:
    model = TinyDiffusionModel(seed=0)
    before = snapshot(model.root)
    config = tiny_config(tmp_path, data, learning_rate=1e30, max_train_epochs=3, train_batch_size=2)
    with single_thread(), pytest.raises(TrainingDiverged, match="Lower the learning rate"):
        Trainer(model, config).run()
    for path in (tmp_path / "out").glob("*.safetensors"):
        assert all(torch.isfinite(v).all() for v in load_lora(path)[0].values()), path
    assert_same(before, snapshot(model.root))
