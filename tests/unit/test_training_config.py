"""The training config: validation messages, JSON round trip, and the kohya sd-scripts export
(config TOML, dataset TOML, accelerate command)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from model_workbench.training.config import (
    TrainingConfig,
    export_kohya,
    kohya_command,
    kohya_dataset_toml,
    kohya_training_toml,
)
from tests.support.tiny_dataset import make_concept_folder

tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None


def parse(text: str) -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads(text)


def test_defaults_are_valid_and_kohya_named() -> None:
    cfg = TrainingConfig()
    cfg.validate()
    for name in ("network_dim", "network_alpha", "learning_rate", "unet_lr", "text_encoder_lr", "lr_scheduler",
                 "lr_warmup_steps", "lr_scheduler_num_cycles", "lr_scheduler_power", "train_batch_size",
                 "max_train_epochs", "max_train_steps", "mixed_precision", "save_precision", "gradient_checkpointing",
                 "cache_latents", "noise_offset", "min_snr_gamma", "v_parameterization", "seed",
                 "save_every_n_epochs", "save_every_n_steps", "resolution", "enable_bucket", "min_bucket_reso",
                 "max_bucket_reso", "bucket_reso_steps", "shuffle_caption", "keep_tokens", "caption_dropout_rate",
                 "clip_skip", "output_name", "flip_aug", "network_dropout"):
        assert hasattr(cfg, name), name


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"network_dim": 0}, "rank"),
    ({"resolution": "500"}, "multiple of 64"),
    ({"resolution": "big"}, "not understood"),
    ({"lr_scheduler": "cosine_annealing"}, "scheduler must be one of"),
    ({"lr_warmup_steps": 10}, "constant_with_warmup"),
    ({"mixed_precision": "fp8"}, "Mixed precision"),
    ({"save_precision": "int8"}, "Save precision"),
    ({"caption_dropout_rate": 1.0}, "caption_dropout_rate"),
    ({"enable_bucket": True, "min_bucket_reso": 300}, "bucket step"),
    ({"output_name": "a/b"}, "output name"),
    ({"random_crop": True}, "cached latents"),
    ({"gradient_accumulation_steps": 0}, "accumulation"),
    ({"unet_lr": 0, "text_encoder_lr": 0}, "nothing would be trained"),
])
def test_validation_messages(changes: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        TrainingConfig(**changes).validate()


def test_validation_lists_every_problem() -> None:
    with pytest.raises(ValueError) as info:
        TrainingConfig(network_dim=0, train_batch_size=0).validate()
    assert "rank" in str(info.value) and "batch size" in str(info.value)


def test_json_round_trip(tmp_path: Path) -> None:
    cfg = TrainingConfig(network_dim=16, unet_lr=2e-4, sample_prompts=["a cat"], resolution="512,768", seed=3)
    cfg.save_json(tmp_path / "v1" / "config.json")
    assert TrainingConfig.load_json(tmp_path / "v1" / "config.json") == cfg
    assert TrainingConfig.from_dict({"network_dim": 8, "unknown_future_key": 1}).network_dim == 8
    assert cfg.resolution_wh() == (512, 768)


def test_kohya_toml_export(tmp_path: Path) -> None:
    data = make_concept_folder(tmp_path / "data", n=1, repeats=10, concept="my cat")
    cfg = TrainingConfig(
        pretrained_model_name_or_path="/models/v1-5.safetensors", train_data_dir=str(data), output_dir="/out",
        output_name="cat_v1", network_dim=16, network_alpha=8, text_encoder_lr=0, lr_scheduler="cosine_with_restarts",
        lr_scheduler_num_cycles=3, lr_warmup_steps=0.1, max_train_epochs=10, mixed_precision="fp16",
        gradient_checkpointing=True, min_snr_gamma=5.0, seed=42, clip_skip=2, enable_bucket=True,
        shuffle_caption=True, keep_tokens=1, rank_dropout=0.1, sample_prompts=["my cat, sitting"],
        sample_every_n_epochs=2,
    )
    args = parse(kohya_training_toml(cfg, "sd1"))
    assert args["network_module"] == "networks.lora" and args["network_dim"] == 16 and args["network_alpha"] == 8.0
    assert args["network_train_unet_only"] is True and "text_encoder_lr" not in args
    assert args["lr_scheduler"] == "cosine_with_restarts" and args["lr_scheduler_num_cycles"] == 3
    assert args["lr_warmup_steps"] == 0.1 and args["max_train_epochs"] == 10 and args["seed"] == 42
    assert args["mixed_precision"] == "fp16" and args["gradient_checkpointing"] is True
    assert args["min_snr_gamma"] == 5.0 and args["clip_skip"] == 2 and args["save_model_as"] == "safetensors"
    assert args["network_args"] == ["rank_dropout=0.1"] and args["gradient_accumulation_steps"] == 1
    assert "v2" not in args and "train_data_dir" not in args
    assert parse(kohya_training_toml(cfg, "sd2"))["v2"] is True

    ds = parse(kohya_dataset_toml(cfg))
    assert ds["general"]["shuffle_caption"] is True and ds["general"]["caption_extension"] == ".txt"
    dataset = ds["datasets"][0]
    assert dataset["resolution"] == 512 and dataset["enable_bucket"] is True and dataset["batch_size"] == 1
    assert dataset["subsets"] == [{"image_dir": str(data / "10_my cat"), "num_repeats": 10, "class_tokens": "my cat"}]

    out = export_kohya(cfg, tmp_path / "export", family="sd1", num_processes=4)
    assert Path(out["config"]).is_file() and Path(out["dataset"]).is_file()
    assert (tmp_path / "export" / "sample_prompts.txt").read_text(encoding="utf-8") == "my cat, sitting\n"
    assert parse(Path(out["config"]).read_text(encoding="utf-8"))["sample_prompts"].endswith("sample_prompts.txt")
    assert out["command"].startswith("accelerate launch --num_cpu_threads_per_process 1 --multi_gpu --num_processes 4 train_network.py")
    assert f"--config_file {out['config']}" in out["command"]


def test_sdxl_command_and_quoting() -> None:
    cmd = kohya_command("sdxl", 1, "/my dir/config.toml", "d.toml")
    assert cmd == "accelerate launch --num_cpu_threads_per_process 1 sdxl_train_network.py --config_file '/my dir/config.toml' --dataset_config d.toml"


def test_conv_dim_goes_into_network_args_as_kohya_writes_them() -> None:
    assert "conv_dim" not in TrainingConfig().network_args()
    assert "conv_dim" not in TrainingConfig(conv_dim=0, conv_alpha=4).network_args()  # 0 = off
    cfg = TrainingConfig(conv_dim=8, conv_alpha=4.0, rank_dropout=0.1)
    assert cfg.network_args() == {"rank_dropout": "0.1", "conv_dim": "8", "conv_alpha": "4"}
    assert TrainingConfig(conv_dim=8).network_args() == {"conv_dim": "8", "conv_alpha": "1"}  # kohya's default
    args = parse(kohya_training_toml(TrainingConfig(conv_dim=8, conv_alpha=0.5), "sd1"))
    assert args["network_args"] == ["conv_dim=8", "conv_alpha=0.5"]


def test_network_weights_goes_into_the_kohya_export() -> None:
    assert "network_weights" not in parse(kohya_training_toml(TrainingConfig(), "sd1"))
    args = parse(kohya_training_toml(TrainingConfig(network_weights="/loras/cat.safetensors"), "sd1"))
    assert args["network_weights"] == "/loras/cat.safetensors"


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"conv_dim": -1}, "convolution rank"),
    ({"conv_dim": 4, "conv_alpha": -1.0}, "convolution alpha"),
])
def test_conv_validation(changes: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        TrainingConfig(**changes).validate()
