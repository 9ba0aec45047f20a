"""What the LoRA trainer needs from a diffusion model.

The trainer never imports WebUI. It is handed an object that satisfies :class:`TrainableModel`:
WebUI's loaded checkpoint seen through an adapter (in ``model_workbench.webui``) or the tiny random
model the tests use (``tests/support/tiny_diffusion.py``).

Modules are addressed by the dotted names they have inside WebUI's ``shared.sd_model``
(``model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q``,
``cond_stage_model.wrapped.transformer.text_model.encoder.layers.0.self_attn.q_proj`` ...), so the
trainer finds its targets with ``root.named_modules()`` and :mod:`.naming` turns those names into
kohya keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

MSG_FAMILY = "The model family '{family}' is not supported; expected one of {families}."
MSG_PREDICTION = "The prediction type '{prediction}' is not supported; expected 'epsilon' or 'v'."
MSG_NO_SCHEDULE = "The model has no usable noise schedule (alphas_cumprod)."

FAMILIES = ("sd1", "sd2", "sdxl")
PREDICTION_TYPES = ("epsilon", "v")


@dataclass
class SizeInfo:
    """SDXL's size conditioning for one sample, in pixels: (height, width) pairs and crop offsets."""

    original_size: tuple[int, int]
    crop_top_left: tuple[int, int]
    target_size: tuple[int, int]


@dataclass
class Conditioning:
    """Text conditioning for one batch.

    ``crossattn`` is the (B, tokens, dim) context every family uses. ``vector`` is SDXL's pooled
    text embedding concatenated with its size embeddings (B, 2816); None for SD1/SD2.
    """

    crossattn: torch.Tensor
    vector: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Conditioning:
        vector = None if self.vector is None else self.vector.to(device)
        return Conditioning(self.crossattn.to(device), vector)


@runtime_checkable
class TrainableModel(Protocol):
    """A latent diffusion model the trainer can put a LoRA on.

    Attributes:
        root: the module whose ``named_modules()`` yields WebUI's dotted names (``shared.sd_model``).
        family: "sd1", "sd2" or "sdxl".
        prediction_type: "epsilon" or "v" (WebUI's ``parameterization`` "eps"/"v").
        alphas_cumprod: the 1000-step ᾱ schedule, fp32, any device.
        device / dtype: where and in which precision the base weights live.
    """

    root: nn.Module
    family: str
    prediction_type: str
    alphas_cumprod: torch.Tensor

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype: ...

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels (B, 3, H, W) in [-1, 1] → scaled latents (B, C, H/8, W/8), no gradient."""
        ...

    def encode_captions(
        self, captions: list[str], clip_skip: int = 1, sizes: list[SizeInfo] | None = None
    ) -> Conditioning:
        """Captions → conditioning. ``clip_skip`` n takes hidden state ``-n`` then the final norm.

        Must keep the autograd graph (the text encoder's LoRA is trained through it).
        ``sizes`` feeds SDXL's size embeddings and is ignored by SD1/SD2.
        """
        ...

    def predict(self, noisy_latents: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """The UNet call (WebUI's ``apply_model``): returns ε or v, as ``prediction_type`` says."""
        ...

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Turn activation checkpointing in the UNet (and text encoder) on or off."""
        ...


def check_model(model: TrainableModel) -> None:
    """Raise ValueError with a plain message when a model cannot be trained."""
    if model.family not in FAMILIES:
        raise ValueError(MSG_FAMILY.format(family=model.family, families=", ".join(FAMILIES)))
    if model.prediction_type not in PREDICTION_TYPES:
        raise ValueError(MSG_PREDICTION.format(prediction=model.prediction_type))
    if model.alphas_cumprod.ndim != 1 or model.alphas_cumprod.numel() < 2:
        raise ValueError(MSG_NO_SCHEDULE)
