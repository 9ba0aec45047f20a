"""kohya LoRA files: round trip, every ss_* key as a string, modelspec, hashes exactly as
sd-scripts computes them, save precision, atomic writes."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save

from model_workbench.training import checkpoint as ck
from model_workbench.training.config import TrainingConfig

# Every key sd-scripts' train_network.py writes in legacy dataset mode (lora-training.md §2.4).
SS_KEYS = ["ss_session_id", "ss_training_started_at", "ss_output_name", "ss_learning_rate", "ss_text_encoder_lr", "ss_unet_lr", "ss_num_train_images", "ss_num_validation_images", "ss_num_reg_images", "ss_num_batches_per_epoch", "ss_num_epochs", "ss_gradient_checkpointing", "ss_gradient_accumulation_steps", "ss_max_train_steps", "ss_lr_warmup_steps", "ss_lr_scheduler", "ss_network_module", "ss_network_dim", "ss_network_alpha", "ss_network_dropout", "ss_mixed_precision", "ss_full_fp16", "ss_v2", "ss_base_model_version", "ss_clip_skip", "ss_max_token_length", "ss_cache_latents", "ss_seed", "ss_lowram", "ss_noise_offset", "ss_multires_noise_iterations", "ss_multires_noise_discount", "ss_adaptive_noise_scale", "ss_zero_terminal_snr", "ss_training_comment", "ss_sd_scripts_commit_hash", "ss_optimizer", "ss_max_grad_norm", "ss_caption_dropout_rate", "ss_caption_dropout_every_n_epochs", "ss_caption_tag_dropout_rate", "ss_face_crop_aug_range", "ss_prior_loss_weight", "ss_min_snr_gamma", "ss_scale_weight_norms", "ss_ip_noise_gamma", "ss_debiased_estimation", "ss_noise_offset_random_strength", "ss_ip_noise_gamma_random_strength", "ss_loss_type", "ss_huber_schedule", "ss_huber_scale", "ss_huber_c", "ss_fp8_base", "ss_fp8_base_unet", "ss_validation_seed", "ss_validation_split", "ss_max_validation_steps", "ss_validate_every_n_epochs", "ss_validate_every_n_steps", "ss_resize_interpolation", "ss_batch_size_per_device", "ss_total_batch_size", "ss_resolution", "ss_color_aug", "ss_flip_aug", "ss_random_crop", "ss_shuffle_caption", "ss_enable_bucket", "ss_bucket_no_upscale", "ss_min_bucket_reso", "ss_max_bucket_reso", "ss_keep_tokens", "ss_dataset_dirs", "ss_reg_dataset_dirs", "ss_tag_frequency", "ss_bucket_info"]


def lora_tensors(rank: int = 4) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": torch.randn(rank, 32, 1, 1, generator=g),
        "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": torch.randn(32, rank, 1, 1, generator=g),
        "lora_unet_mid_block_attentions_0_proj_in.alpha": torch.tensor(2.0),
        "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": torch.randn(rank, 32, generator=g),
        "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight": torch.randn(64, rank, generator=g),
        "lora_te_text_model_encoder_layers_0_mlp_fc1.alpha": torch.tensor(2.0),
    }


def full_metadata(**config_kw) -> dict[str, str]:
    cfg = TrainingConfig(output_name="proj_v1", **config_kw)
    run = ck.RunInfo(family="sd1", seed=7, num_train_images=8, num_batches_per_epoch=4, num_epochs=2,
                     max_train_steps=8, dataset_dirs={"4_cat": {"n_repeats": 4, "img_count": 2}},
                     tag_frequency={"4_cat": {"cat": 2}}, sd_model_name="model.safetensors")
    meta = ck.build_metadata(cfg, run)
    meta.update(ck.modelspec_metadata(cfg, run, timestamp=0))
    return meta


def test_metadata_has_every_ss_key_as_strings() -> None:
    meta = full_metadata()
    missing = [k for k in SS_KEYS if k not in meta]
    assert not missing
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["ss_network_module"] == "networks.lora"
    assert meta["ss_base_model_version"] == "sd_v1" and meta["ss_v2"] == "False"
    assert meta["ss_resolution"] == "(512, 512)"
    assert json.loads(meta["ss_dataset_dirs"]) == {"4_cat": {"n_repeats": 4, "img_count": 2}}
    assert json.loads(meta["ss_tag_frequency"]) == {"4_cat": {"cat": 2}}
    assert meta["ss_sd_model_name"] == "model.safetensors"
    assert meta["ss_learning_rate"] == "0.0001" and meta["ss_unet_lr"] == "None"  # as given, like sd-scripts
    assert meta["modelspec.architecture"] == "stable-diffusion-v1/lora"
    assert meta["modelspec.implementation"] == "diffusers"
    assert meta["modelspec.prediction_type"] == "epsilon" and meta["modelspec.resolution"] == "512x512"
    assert meta["modelspec.sai_model_spec"] == "1.0.1" and meta["modelspec.title"] == "proj_v1"
    assert ck.build_metadata(TrainingConfig(rank_dropout=0.1), ck.RunInfo())["ss_network_args"] == '{"rank_dropout": "0.1"}'


@pytest.mark.parametrize(("family", "v", "version", "arch"), [
    ("sd2", True, "sd_v2_v", "stable-diffusion-v2-768-v/lora"),
    ("sd2", False, "sd_v2", "stable-diffusion-v2-512/lora"),
    ("sdxl", False, "sdxl_base_v1-0", "stable-diffusion-xl-v1-base/lora"),
])
def test_family_metadata(family, v, version, arch) -> None:
    run = ck.RunInfo(family=family, prediction_type="v" if v else "epsilon")
    cfg = TrainingConfig(v_parameterization=v)
    meta = ck.build_metadata(cfg, run)
    assert meta["ss_base_model_version"] == version and meta["ss_v2"] == str(family == "sd2")
    spec = ck.modelspec_metadata(cfg, run)
    assert spec["modelspec.architecture"] == arch
    if family == "sdxl":
        assert spec["modelspec.implementation"] == "https://github.com/Stability-AI/generative-models"


def test_round_trip_and_hashes(tmp_path: Path) -> None:
    path = tmp_path / "proj_v1-000002.safetensors"
    written = ck.save_lora(path, lora_tensors(), full_metadata(), "float")
    loaded = ck.load_lora(path)
    assert loaded.metadata == written
    for key, tensor in lora_tensors().items():
        assert torch.equal(loaded.tensors[key], tensor)
    assert loaded.module_keys() == ["lora_te_text_model_encoder_layers_0_mlp_fc1", "lora_unet_mid_block_attentions_0_proj_in"]
    # sshs_model_hash: sha256 of the tensor section = WebUI's addnet hash of the file itself
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert written["sshs_model_hash"] == hashlib.sha256(data[8 + n :]).hexdigest() == ck.file_addnet_hash(path)
    # recomputed independently the sd-scripts way: serialise with the ss_* keys only
    ss_only = {k: v for k, v in full_metadata().items() if k.startswith("ss_")}
    buffer = st_save({k: v.contiguous() for k, v in lora_tensors().items()}, ss_only)
    assert written["sshs_legacy_hash"] == hashlib.sha256(buffer[0x100000 : 0x110000]).hexdigest()[:8]
    assert written["sshs_model_hash"] == ck.addnet_hash_safetensors(io.BytesIO(buffer))
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]  # no temp file left


def test_legacy_hash_covers_bytes_at_one_mebibyte(tmp_path: Path) -> None:
    big = {"lora_x.lora_down.weight": torch.arange(400_000, dtype=torch.float32).reshape(1000, 400)}
    written = ck.save_lora(tmp_path / "big.safetensors", big, {"ss_a": "1"}, "float")
    buffer = st_save(big, {"ss_a": "1"})
    assert written["sshs_legacy_hash"] == hashlib.sha256(buffer[0x100000:0x110000]).hexdigest()[:8]
    assert written["sshs_legacy_hash"] != hashlib.sha256(b"").hexdigest()[:8]


@pytest.mark.parametrize(("precision", "dtype"), [("fp16", torch.float16), ("bf16", torch.bfloat16), ("float", torch.float32)])
def test_save_precision(tmp_path: Path, precision: str, dtype: torch.dtype) -> None:
    path = tmp_path / "x.safetensors"
    ck.save_lora(path, lora_tensors(), {}, precision)
    assert {t.dtype for t in ck.load_lora(path).tensors.values()} == {dtype}


def test_failed_save_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.safetensors"
    ck.save_lora(path, lora_tensors(), {"ss_a": "1"}, "float")
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ck.os, "fsync", disk_full)
    with pytest.raises(OSError):
        ck.save_lora(path, lora_tensors(), {"ss_a": "2"}, "float")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"]


def test_file_names() -> None:
    assert ck.epoch_file_name("proj_v1", 3) == "proj_v1-000003.safetensors"
    assert ck.step_file_name("proj_v1", 500) == "proj_v1-step00000500.safetensors"
