"""Starting points for the Train form: SD1.5 / SDXL × character / style, in kohya argument names.

Values follow common community practice for kohya LoRAs: a character needs identity (no mirror
flips, first tag kept as the trigger), a style needs breadth (flips, more rank, a little caption
dropout); SDXL trains at 1024 px, mostly the UNet, with checkpointing to fit consumer GPUs.
A preset only sets what it names; everything else keeps its value in the form.
"""

from __future__ import annotations

from typing import Any

from .config import TrainingConfig

_SD15_COMMON: dict[str, Any] = {
    "resolution": "512", "enable_bucket": True, "min_bucket_reso": 256, "max_bucket_reso": 1024,
    "bucket_reso_steps": 64, "learning_rate": 1e-4, "unet_lr": 1e-4, "text_encoder_lr": 5e-5,
    "lr_scheduler": "cosine", "lr_warmup_steps": 0.05, "train_batch_size": 2, "mixed_precision": "fp16",
    "save_precision": "fp16", "cache_latents": True, "min_snr_gamma": 5.0, "shuffle_caption": True,
    "save_every_n_epochs": 1,
}
_SDXL_COMMON: dict[str, Any] = {
    "resolution": "1024", "enable_bucket": True, "min_bucket_reso": 512, "max_bucket_reso": 2048,
    "bucket_reso_steps": 64, "learning_rate": 1e-4, "unet_lr": 1e-4, "text_encoder_lr": 0.0,
    "lr_scheduler": "cosine", "lr_warmup_steps": 0.05, "train_batch_size": 1, "mixed_precision": "bf16",
    "save_precision": "fp16", "gradient_checkpointing": True, "cache_latents": True, "min_snr_gamma": 5.0,
    "shuffle_caption": True, "save_every_n_epochs": 1,
}

PRESETS: dict[str, dict[str, Any]] = {
    "SD1.5 character": {**_SD15_COMMON, "network_dim": 32, "network_alpha": 16, "max_train_epochs": 10,
                        "keep_tokens": 1, "flip_aug": False, "caption_dropout_rate": 0.0, "noise_offset": 0.03},
    "SD1.5 style": {**_SD15_COMMON, "network_dim": 64, "network_alpha": 32, "max_train_epochs": 15,
                    "keep_tokens": 0, "flip_aug": True, "caption_dropout_rate": 0.05, "noise_offset": 0.05},
    "SDXL character": {**_SDXL_COMMON, "network_dim": 32, "network_alpha": 16, "max_train_epochs": 10,
                       "keep_tokens": 1, "flip_aug": False, "caption_dropout_rate": 0.0, "noise_offset": 0.03},
    "SDXL style": {**_SDXL_COMMON, "network_dim": 64, "network_alpha": 32, "max_train_epochs": 12,
                   "keep_tokens": 0, "flip_aug": True, "caption_dropout_rate": 0.05, "noise_offset": 0.05},
}

MSG_UNKNOWN_PRESET = "There is no preset named '{name}'. Choose one of: {names}."


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_values(name: str) -> dict[str, Any]:
    """The settings a preset sets (a copy)."""
    if name not in PRESETS:
        raise ValueError(MSG_UNKNOWN_PRESET.format(name=name, names=", ".join(PRESETS)))
    return dict(PRESETS[name])


def apply_preset(name: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``values`` with the preset's settings laid over them."""
    return {**(values or {}), **preset_values(name)}


def preset_config(name: str) -> TrainingConfig:
    """The preset on top of the engine's defaults, validated (raises ValueError if it were wrong)."""
    config = TrainingConfig(**preset_values(name))
    config.validate()
    return config
