"""kohya-format LoRA files: metadata, hashes, atomic save, load.

A file holds ``<kohya_key>.lora_down.weight``, ``<kohya_key>.lora_up.weight`` and
``<kohya_key>.alpha`` per module, the ``ss_*`` training metadata sd-scripts' train_network.py
writes (every value a string), ``modelspec.*`` (SAI model spec 1.0.1, as sd-scripts fills it for
a LoRA) and ``sshs_model_hash``/``sshs_legacy_hash``, computed the way sd-scripts computes them:
over an in-memory safetensors serialisation that carries only the ``ss_*`` metadata. WebUI shows
``sshs_model_hash`` as the LoRA's hash and uses ``ss_output_name`` as its alias.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from .config import TrainingConfig
from .optimizers import metadata_name as optimizer_metadata_name

SAVE_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "float": torch.float32, "fp32": torch.float32}
ENGINE_VERSION = "model-workbench/0.1.0"

BASE_MODEL_VERSIONS = {"sd1": "sd_v1", "sd2": "sd_v2", "sdxl": "sdxl_base_v1-0"}
ARCHITECTURES = {"sd1": "stable-diffusion-v1", "sd2": "stable-diffusion-v2-512", "sdxl": "stable-diffusion-xl-v1-base"}


# ------------------------------------------------------------------------------------------------
# hashes (sd-scripts' precalculate_safetensors_hashes / A1111's addnet hash)
# ------------------------------------------------------------------------------------------------
def addnet_hash_safetensors(data: io.BufferedIOBase | io.BytesIO) -> str:
    """sha256 of everything after the 8-byte header length and the JSON header."""
    data.seek(0)
    n = int.from_bytes(data.read(8), "little")
    data.seek(8 + n)
    digest = hashlib.sha256()
    for chunk in iter(lambda: data.read(1024 * 1024), b""):
        digest.update(chunk)
    return digest.hexdigest()


def addnet_hash_legacy(data: io.BufferedIOBase | io.BytesIO) -> str:
    """First 8 hex digits of sha256 over 64 KiB at offset 1 MiB (may be empty for small files)."""
    data.seek(0x100000)
    return hashlib.sha256(data.read(0x10000)).hexdigest()[:8]


def precalculate_hashes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    """(sshs_model_hash, sshs_legacy_hash) as sd-scripts computes them before saving."""
    ss_only = {k: v for k, v in metadata.items() if k.startswith("ss_")}
    buffer = io.BytesIO(safetensors_save(tensors, ss_only))
    return addnet_hash_safetensors(buffer), addnet_hash_legacy(buffer)


def file_addnet_hash(path: str | os.PathLike) -> str:
    """The addnet hash of a file on disk (what WebUI computes when the metadata has none)."""
    with open(path, "rb") as f:
        return addnet_hash_safetensors(f)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# metadata
# ------------------------------------------------------------------------------------------------
@dataclass
class RunInfo:
    """Facts about a run that the config alone does not hold."""

    family: str = "sd1"
    prediction_type: str = "epsilon"
    session_id: int = 0
    training_started_at: float = field(default_factory=time.time)
    num_train_images: int = 0  # including repeats
    num_reg_images: int = 0
    num_batches_per_epoch: int = 0
    num_epochs: int = 0
    max_train_steps: int = 0
    lr_warmup_steps: int = 0
    seed: int = 0
    dataset_dirs: dict[str, dict[str, int]] = field(default_factory=dict)
    tag_frequency: dict[str, dict[str, int]] = field(default_factory=dict)
    bucket_info: dict[str, Any] | None = None
    sd_model_name: str | None = None
    sd_model_hash: str | None = None  # A1111's old 8-char hash
    new_sd_model_hash: str | None = None  # full-file sha256
    vae_name: str | None = None


def base_model_version(family: str, v_parameterization: bool) -> str:
    version = BASE_MODEL_VERSIONS[family]
    if v_parameterization and family in ("sd1", "sd2"):
        version += "_v"
    return version


def build_metadata(config: TrainingConfig, run: RunInfo) -> dict[str, str]:
    """Every ``ss_*`` key sd-scripts' train_network.py writes (legacy dataset mode), as strings."""
    v = run.prediction_type == "v"
    w, h = config.resolution_wh()
    meta: dict[str, Any] = {
        "ss_session_id": run.session_id,
        "ss_training_started_at": run.training_started_at,
        "ss_output_name": config.output_name,
        "ss_learning_rate": config.learning_rate,
        # As sd-scripts: the arguments as given ("None" = falls back to ss_learning_rate).
        "ss_text_encoder_lr": config.text_encoder_lr,
        "ss_unet_lr": config.unet_lr,
        "ss_num_train_images": run.num_train_images,
        "ss_num_validation_images": 0,
        "ss_num_reg_images": run.num_reg_images,
        "ss_num_batches_per_epoch": run.num_batches_per_epoch,
        "ss_num_epochs": run.num_epochs,
        "ss_gradient_checkpointing": bool(config.gradient_checkpointing),
        "ss_gradient_accumulation_steps": config.gradient_accumulation_steps,
        "ss_max_train_steps": run.max_train_steps,
        "ss_lr_warmup_steps": run.lr_warmup_steps,
        "ss_lr_scheduler": config.lr_scheduler,
        "ss_network_module": "networks.lora",
        "ss_network_dim": config.network_dim,
        "ss_network_alpha": config.network_alpha,
        "ss_network_dropout": config.network_dropout,
        "ss_mixed_precision": config.mixed_precision,
        "ss_full_fp16": False,
        "ss_v2": run.family == "sd2",
        "ss_base_model_version": base_model_version(run.family, v),
        "ss_clip_skip": config.clip_skip,
        "ss_max_token_length": None,
        "ss_cache_latents": bool(config.cache_latents),
        "ss_seed": run.seed,
        "ss_lowram": False,
        "ss_noise_offset": config.noise_offset,
        "ss_multires_noise_iterations": None,
        "ss_multires_noise_discount": 0.3,
        "ss_adaptive_noise_scale": None,
        "ss_zero_terminal_snr": False,
        "ss_training_comment": config.training_comment or None,
        "ss_sd_scripts_commit_hash": ENGINE_VERSION,
        "ss_optimizer": optimizer_metadata_name(config.optimizer_type),
        "ss_max_grad_norm": config.max_grad_norm,
        "ss_caption_dropout_rate": config.caption_dropout_rate,
        "ss_caption_dropout_every_n_epochs": config.caption_dropout_every_n_epochs,
        "ss_caption_tag_dropout_rate": config.caption_tag_dropout_rate,
        "ss_face_crop_aug_range": None,
        "ss_prior_loss_weight": 1.0,
        "ss_min_snr_gamma": config.min_snr_gamma,
        "ss_scale_weight_norms": None,
        "ss_ip_noise_gamma": None,
        "ss_debiased_estimation": False,
        "ss_noise_offset_random_strength": False,
        "ss_ip_noise_gamma_random_strength": False,
        "ss_loss_type": "l2",
        "ss_huber_schedule": "snr",
        "ss_huber_scale": 1.0,
        "ss_huber_c": 0.1,
        "ss_fp8_base": False,
        "ss_fp8_base_unet": False,
        "ss_validation_seed": None,
        "ss_validation_split": 0.0,
        "ss_max_validation_steps": None,
        "ss_validate_every_n_epochs": None,
        "ss_validate_every_n_steps": None,
        "ss_resize_interpolation": None,
        # dataset (legacy <repeats>_<concept> mode)
        "ss_batch_size_per_device": config.train_batch_size,
        "ss_total_batch_size": config.train_batch_size * config.gradient_accumulation_steps,
        "ss_resolution": (w, h),
        "ss_color_aug": False,
        "ss_flip_aug": bool(config.flip_aug),
        "ss_random_crop": bool(config.random_crop),
        "ss_shuffle_caption": bool(config.shuffle_caption),
        "ss_enable_bucket": bool(config.enable_bucket),
        "ss_bucket_no_upscale": bool(config.bucket_no_upscale),
        "ss_min_bucket_reso": config.min_bucket_reso if config.enable_bucket else None,
        "ss_max_bucket_reso": config.max_bucket_reso if config.enable_bucket else None,
        "ss_keep_tokens": config.keep_tokens,
        "ss_dataset_dirs": json.dumps(run.dataset_dirs),
        "ss_reg_dataset_dirs": json.dumps({}),
        "ss_tag_frequency": json.dumps(run.tag_frequency),
        "ss_bucket_info": json.dumps(run.bucket_info),
    }
    if config.network_args():
        meta["ss_network_args"] = json.dumps(config.network_args())
    if run.sd_model_name:
        meta["ss_sd_model_name"] = run.sd_model_name
        if run.sd_model_hash:
            meta["ss_sd_model_hash"] = run.sd_model_hash
        if run.new_sd_model_hash:
            meta["ss_new_sd_model_hash"] = run.new_sd_model_hash
    if run.vae_name:
        meta["ss_vae_name"] = run.vae_name
    return {k: str(v) for k, v in meta.items()}


def modelspec_metadata(config: TrainingConfig, run: RunInfo, timestamp: float | None = None) -> dict[str, str]:
    """``modelspec.*`` as sd-scripts writes them for a LoRA (``get_sai_model_spec``)."""
    timestamp = time.time() if timestamp is None else timestamp
    v = run.prediction_type == "v"
    arch = ARCHITECTURES[run.family]
    if run.family == "sd2" and v:
        arch = "stable-diffusion-v2-768-v"
    w, h = config.resolution_wh()
    spec = {
        "modelspec.sai_model_spec": "1.0.1",
        "modelspec.architecture": f"{arch}/lora",
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models" if run.family == "sdxl" else "diffusers",
        "modelspec.title": config.output_name,
        "modelspec.resolution": f"{w}x{h}",
        "modelspec.date": datetime.datetime.fromtimestamp(int(timestamp)).isoformat(),
        "modelspec.prediction_type": "v" if v else "epsilon",
        "modelspec.implementation_version": ENGINE_VERSION,
    }
    if config.clip_skip is not None:
        spec["modelspec.encoder_layer"] = str(config.clip_skip)
    return spec


# ------------------------------------------------------------------------------------------------
# save / load
# ------------------------------------------------------------------------------------------------
def prepare_state_dict(state_dict: dict[str, torch.Tensor], save_precision: str | None) -> dict[str, torch.Tensor]:
    dtype = SAVE_DTYPES[save_precision] if save_precision else None
    out = {}
    for key, value in state_dict.items():
        value = value.detach().to("cpu")
        if dtype is not None:
            value = value.to(dtype)
        out[key] = value.contiguous().clone()
    return out


def save_lora(
    path: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    metadata: dict[str, str],
    save_precision: str | None = "fp16",
) -> dict[str, str]:
    """Write a kohya LoRA atomically (a temp file in the same folder, then ``os.replace``).

    Adds ``sshs_model_hash`` and ``sshs_legacy_hash``; returns the metadata written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = prepare_state_dict(state_dict, save_precision)
    metadata = {k: str(v) for k, v in metadata.items()}
    model_hash, legacy_hash = precalculate_hashes(tensors, metadata)
    metadata["sshs_model_hash"] = model_hash
    metadata["sshs_legacy_hash"] = legacy_hash
    data = safetensors_save(tensors, metadata)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return metadata


@dataclass
class LoadedLora:
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str]

    def module_keys(self) -> list[str]:
        return sorted({k.split(".", 1)[0] for k in self.tensors})


def load_lora(path: str | os.PathLike, device: str = "cpu") -> LoadedLora:
    """Read a LoRA file back: tensors and metadata (``{}`` when it has none)."""
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt", device=device) as f:
        metadata = dict(f.metadata() or {})
        for key in f.keys():  # noqa: SIM118 - safe_open is not iterable
            tensors[key] = f.get_tensor(key)
    return LoadedLora(tensors, metadata)


def epoch_file_name(output_name: str, epoch: int) -> str:
    """sd-scripts' per-epoch name: ``<output>-000003.safetensors``."""
    return f"{output_name}-{epoch:06d}.safetensors"


def step_file_name(output_name: str, step: int) -> str:
    """sd-scripts' per-step name: ``<output>-step00000500.safetensors``."""
    return f"{output_name}-step{step:08d}.safetensors"
