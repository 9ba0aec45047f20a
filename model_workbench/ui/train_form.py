"""The Train form: every engine parameter (kohya names), grouped, with conversion both ways.

Labels are written as literal ``t("...")`` calls inside :func:`form_groups` so the localisation test
finds them and so they are translated when the tab is built (not when this module is imported).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gradio as gr

from model_workbench.training.config import SCHEDULERS, TrainingConfig
from model_workbench.training.optimizers import OPTIMIZERS
from model_workbench.training.sweep import SWEEPABLE, is_sweepable
from model_workbench.ui.compat import dropdown
from model_workbench.ui.i18n import t

MSG_NOT_A_NUMBER = "{label}: '{value}' is not a number; leave it empty for the default."


@dataclass(frozen=True)
class Field:
    name: str  # the TrainingConfig (kohya) name
    label: str
    kind: str  # int, float, opt_int, opt_float, bool, choice, text, lines, lora_file (choices given when built)
    choices: tuple[str, ...] = ()


def form_groups() -> list[tuple[str, list[Field]]]:
    """(accordion title, fields) in display order."""
    return [
        (t("Basics"), [
            Field("network_dim", t("Network rank (network_dim)"), "int"),
            Field("network_alpha", t("Network alpha (network_alpha)"), "float"),
            Field("learning_rate", t("Learning rate (learning_rate)"), "float"),
            Field("optimizer_type", t("Optimizer (optimizer_type)"), "choice", OPTIMIZERS),
            Field("max_train_epochs", t("Epochs, empty to count steps instead (max_train_epochs)"), "opt_int"),
            Field("train_batch_size", t("Batch size (train_batch_size)"), "int"),
            Field("resolution", t("Resolution, W or W,H (resolution)"), "text"),
            Field("seed", t("Seed, empty for random (seed)"), "opt_int"),
            Field("mixed_precision", t("Mixed precision (mixed_precision)"), "choice", ("no", "fp16", "bf16")),
        ]),
        (t("Network"), [
            Field("network_dropout", t("Neuron dropout (network_dropout)"), "opt_float"),
            Field("rank_dropout", t("Rank dropout (rank_dropout)"), "opt_float"),
            Field("module_dropout", t("Module dropout (module_dropout)"), "opt_float"),
            Field("conv_dim", t("Convolution rank, empty for none (conv_dim)"), "opt_int"),
            Field("conv_alpha", t("Convolution alpha, empty for 1 (conv_alpha)"), "opt_float"),
            Field("network_weights", t("Continue from LoRA, empty for a fresh start (network_weights)"), "lora_file"),
        ]),
        (t("Learning rate"), [
            Field("unet_lr", t("UNet learning rate (unet_lr)"), "opt_float"),
            Field("text_encoder_lr", t("Text encoder learning rate (text_encoder_lr)"), "opt_float"),
            Field("lr_scheduler", t("Scheduler (lr_scheduler)"), "choice", tuple(SCHEDULERS)),
            Field("lr_warmup_steps", t("Warmup steps or ratio (lr_warmup_steps)"), "float"),
            Field("lr_scheduler_num_cycles", t("Restart cycles (lr_scheduler_num_cycles)"), "int"),
            Field("lr_scheduler_power", t("Polynomial power (lr_scheduler_power)"), "float"),
            Field("max_grad_norm", t("Gradient clipping (max_grad_norm)"), "float"),
        ]),
        (t("Steps and saving"), [
            Field("gradient_accumulation_steps", t("Gradient accumulation (gradient_accumulation_steps)"), "int"),
            Field("max_train_steps", t("Steps when epochs is empty (max_train_steps)"), "int"),
            Field("save_every_n_epochs", t("Save every N epochs (save_every_n_epochs)"), "opt_int"),
            Field("save_every_n_steps", t("Also save every N steps (save_every_n_steps)"), "opt_int"),
            Field("save_state", t("Keep state for resume (save_state)"), "bool"),
        ]),
        (t("Precision and memory"), [
            Field("save_precision", t("Save precision (save_precision)"), "choice", ("fp16", "bf16", "float")),
            Field("gradient_checkpointing", t("Gradient checkpointing (gradient_checkpointing)"), "bool"),
            Field("cache_latents", t("Cache latents (cache_latents)"), "bool"),
        ]),
        (t("Noise and loss"), [
            Field("noise_offset", t("Noise offset (noise_offset)"), "opt_float"),
            Field("min_snr_gamma", t("Min-SNR gamma (min_snr_gamma)"), "opt_float"),
            Field("v_parameterization", t("v-prediction model (v_parameterization)"), "bool"),
        ]),
        (t("Images and buckets"), [
            Field("enable_bucket", t("Aspect-ratio buckets (enable_bucket)"), "bool"),
            Field("min_bucket_reso", t("Smallest bucket side (min_bucket_reso)"), "int"),
            Field("max_bucket_reso", t("Largest bucket side (max_bucket_reso)"), "int"),
            Field("bucket_reso_steps", t("Bucket step (bucket_reso_steps)"), "int"),
            Field("bucket_no_upscale", t("Do not upscale small images (bucket_no_upscale)"), "bool"),
            Field("resize_mode", t("Fit images by (resize_mode)"), "choice", ("crop", "pad")),
            Field("random_crop", t("Random crop (random_crop)"), "bool"),
            Field("flip_aug", t("Mirror images at random (flip_aug)"), "bool"),
        ]),
        (t("Captions"), [
            Field("shuffle_caption", t("Shuffle tags (shuffle_caption)"), "bool"),
            Field("keep_tokens", t("Keep the first N tags in place (keep_tokens)"), "int"),
            Field("caption_dropout_rate", t("Caption dropout rate (caption_dropout_rate)"), "float"),
            Field("caption_dropout_every_n_epochs", t("Drop captions every N epochs (caption_dropout_every_n_epochs)"), "int"),
            Field("caption_tag_dropout_rate", t("Tag dropout rate (caption_tag_dropout_rate)"), "float"),
            Field("clip_skip", t("Clip skip (clip_skip)"), "opt_int"),
            Field("caption_extension", t("Caption file extension (caption_extension)"), "text"),
            Field("training_comment", t("Comment stored in the file (training_comment)"), "text"),
        ]),
    ]


def sample_fields() -> list[Field]:
    return [
        Field("sample_prompts", t("Sample prompts, one per line (sample_prompts)"), "lines"),
        Field("sample_every_n_epochs", t("Sample every N epochs, empty for never (sample_every_n_epochs)"), "opt_int"),
        Field("sample_every_n_steps", t("Sample every N steps, empty for never (sample_every_n_steps)"), "opt_int"),
    ]


def all_fields() -> list[Field]:
    return [f for _, fields in form_groups() for f in fields] + sample_fields()


def default_values() -> dict[str, Any]:
    return TrainingConfig().to_dict()


def component_for(field: Field, value: Any, elem_prefix: str = "mw_train_cfg_") -> gr.components.Component:
    elem_id = elem_prefix + field.name
    if field.kind == "bool":
        return gr.Checkbox(label=field.label, value=bool(value), elem_id=elem_id)
    if field.kind in ("choice", "lora_file"):
        return dropdown(list(field.choices), value=value, label=field.label, elem_id=elem_id)
    if field.kind in ("int", "float") and is_sweepable(field.name):  # text: "1e-4, 5e-5" is a sweep
        return gr.Textbox(label=field.label, value=to_component_value(field, value), elem_id=elem_id)
    if field.kind in ("int", "float"):
        return gr.Number(label=field.label, value=value, precision=0 if field.kind == "int" else None, elem_id=elem_id)
    if field.kind == "lines":
        return gr.Textbox(label=field.label, value=to_component_value(field, value), lines=2, elem_id=elem_id)
    return gr.Textbox(label=field.label, value=to_component_value(field, value), elem_id=elem_id)


def to_component_value(field: Field, value: Any) -> Any:
    if field.kind == "lines":
        return "\n".join(value or [])
    if field.kind in ("opt_int", "opt_float", "text", "lora_file") or (field.kind in ("int", "float")
                                                                     and is_sweepable(field.name)):
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return value


def values_for(fields: list[Field], config: dict[str, Any]) -> list[Any]:
    """Component values for a stored config (missing keys take the engine's defaults)."""
    merged = {**default_values(), **config}
    return [to_component_value(f, merged.get(f.name)) for f in fields]


def parse_values(fields: list[Field], values: list[Any]) -> dict[str, Any]:
    """Component values → kohya overrides; raises ValueError with the field's label for bad numbers."""
    out: dict[str, Any] = {}
    for field, value in zip(fields, values, strict=True):
        if is_sweepable(field.name) and isinstance(value, str) and SWEEPABLE[field.name].separator in value:
            out[field.name] = value  # several values: a sweep (training.sweep splits and checks them)
        elif field.kind == "bool":
            out[field.name] = bool(value)
        elif field.kind in ("int", "float"):
            if value is None or str(value).strip() == "":
                continue  # the engine's default
            out[field.name] = _number(field, value)
        elif field.kind in ("opt_int", "opt_float"):
            text = str(value if value is not None else "").strip()
            if not text:
                out[field.name] = None
                continue
            try:
                out[field.name] = int(text) if field.kind == "opt_int" else float(text)
            except ValueError:
                raise ValueError(MSG_NOT_A_NUMBER.format(label=field.label, value=text)) from None
        elif field.kind == "lines":
            out[field.name] = [line.strip() for line in str(value or "").splitlines() if line.strip()]
        else:
            out[field.name] = str(value or "").strip()
    return out


def _number(field: Field, value: Any) -> int | float:
    """A number field's value (a sweepable one arrives as text); the field's label when it is none."""
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(MSG_NOT_A_NUMBER.format(label=field.label, value=str(value).strip())) from None
    return int(number) if field.kind == "int" and number.is_integer() else number


def field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(TrainingConfig)}
