"""WebUI's loaded checkpoint (A1111 1.10 ``shared.sd_model``) as the trainer's ``TrainableModel``.

The model is used as WebUI built it, hijack included, so training sees exactly what generation
sees: captions go through WebUI's own text-encoder wrapper (emphasis, embeddings, 75-token chunks,
clip skip from ``opts.CLIP_stop_at_last_layers``), images through ``encode_first_stage`` +
``get_first_stage_encoding``, the UNet through ``apply_model``. Module names are WebUI's
(``model.diffusion_model.…``, ``cond_stage_model.wrapped.…``, ``conditioner.embedders.N.…``), which
is what ``training/naming.py`` turns into kohya keys.

Nothing here changes a weight; ``model_guard.py`` checks that around the whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from model_workbench.training.protocol import Conditioning, SizeInfo
from model_workbench.webui import messages

# Blocks whose activations gradient checkpointing recomputes: LDM's and SGM's UNet blocks.
CHECKPOINTED_BLOCKS = ("BasicTransformerBlock", "ResBlock")


def model_family(sd_model: Any) -> str | None:
    """"sd1", "sd2", "sdxl" from WebUI's flags (set by ``sd_models.load_model``), else None."""
    if getattr(sd_model, "is_sdxl", False):
        return "sdxl"
    if getattr(sd_model, "is_sd2", False):
        return "sd2"
    if getattr(sd_model, "is_sd1", False):
        return "sd1"
    return None


def why_not_trainable(sd_model: Any, cmd_opts: Any, fp8: bool, lowvram: Any | None = None,
                      alternative_unet: str | None = None) -> str | None:
    """The reason the loaded model cannot be trained in-process, or None when it can.

    ``alternative_unet`` names the UNet WebUI's ``sd_unet`` swapped in (TensorRT...), if any."""
    if sd_model is None:
        return messages.NO_MODEL
    low = getattr(sd_model, "lowvram", False) or (lowvram is not None and lowvram.is_needed(sd_model))
    if low or getattr(cmd_opts, "lowvram", False) or getattr(cmd_opts, "medvram", False):
        if getattr(cmd_opts, "lowvram", False):
            flag = "--lowvram"
        elif getattr(cmd_opts, "medvram", False):
            flag = "--medvram"
        else:
            flag = "--medvram-sdxl"
        return messages.LOW_VRAM.format(flag=flag)
    if fp8:
        return messages.FP8
    if model_family(sd_model) is None:
        return messages.UNKNOWN_FAMILY
    key = getattr(getattr(sd_model, "model", None), "conditioning_key", "crossattn")
    if key not in (None, "crossattn"):
        return messages.INPAINTING.format(key=key)
    if alternative_unet:
        return messages.ALTERNATIVE_UNET.format(name=alternative_unet)
    return None


def set_option(opts: Any, key: str, value: Any) -> None:
    """Set a WebUI option for the duration of a job, without saving it.

    Writes ``opts.data`` directly: ``Options.__setattr__`` refuses any change under
    ``--freeze-settings``, and this is a temporary override the guard undoes, not a user's setting."""
    data = getattr(opts, "data", None)
    if isinstance(data, dict):
        data[key] = value
    else:
        setattr(opts, key, value)


def _checkpointed_forward(module: nn.Module) -> Callable[..., Any]:
    cls_forward = type(module).forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        if torch.is_grad_enabled():
            # Non-reentrant: gradients reach the LoRA hooks inside even when no input needs grad.
            return checkpoint(cls_forward, module, *args, use_reentrant=False, **kwargs)
        return cls_forward(module, *args, **kwargs)

    return forward


def checkpoint_blocks(unet: nn.Module, patched: list[nn.Module], enabled: bool) -> list[nn.Module]:
    """Remove the per-instance checkpointed forwards in ``patched``; when ``enabled``, give every
    transformer and residual block of ``unet`` one. Returns the blocks now patched."""
    for module in patched:
        module.__dict__.pop("forward", None)
    if not enabled:
        return []
    now = []
    for module in unet.modules():
        if type(module).__name__ in CHECKPOINTED_BLOCKS and "forward" not in module.__dict__:
            module.forward = _checkpointed_forward(module)
            now.append(module)
    return now


class WebuiTrainableModel:
    """``model_workbench.training.protocol.TrainableModel`` over WebUI's ``shared.sd_model``.

    ``opts`` is WebUI's ``shared.opts`` and ``devices`` its ``modules.devices``: captions are encoded
    with ``opts.CLIP_stop_at_last_layers`` set to the clip skip asked for (the guard restores the
    user's value afterwards).
    """

    def __init__(self, sd_model: nn.Module, opts: Any, devices: Any) -> None:
        family = model_family(sd_model)
        if family is None:
            raise ValueError(messages.UNKNOWN_FAMILY)
        self.root = sd_model
        self.family = family
        self.prediction_type = "v" if getattr(sd_model, "parameterization", "eps") == "v" else "epsilon"
        self._opts = opts
        self._devices = devices
        self._checkpointed: list[nn.Module] = []

    # -- fields ----------------------------------------------------------------------------------
    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.root.alphas_cumprod

    @property
    def unet(self) -> nn.Module:
        return self.root.model.diffusion_model

    @property
    def text_encoders(self) -> list[nn.Module]:
        """The text encoders as WebUI holds them (SDXL: the conditioner's text embedders)."""
        if self.family == "sdxl":
            return [e for e in self.root.conditioner.embedders if getattr(e, "input_key", None) == "txt"]
        return [self.root.cond_stage_model]

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    # -- protocol --------------------------------------------------------------------------------
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        vae_dtype = getattr(self._devices, "dtype_vae", None) or next(self.root.first_stage_model.parameters()).dtype
        with torch.no_grad():
            dist = self.root.encode_first_stage(pixels.to(self.device, vae_dtype))
            latents = self.root.get_first_stage_encoding(dist)
        # encode_first_stage is @torch.no_grad: hand back an ordinary tensor the trainer may keep.
        return latents.clone()

    def encode_captions(self, captions: list[str], clip_skip: int = 1, sizes: list[SizeInfo] | None = None) -> Conditioning:
        set_option(self._opts, "CLIP_stop_at_last_layers", max(1, int(clip_skip or 1)))
        if self.family == "sdxl":
            return self._encode_sdxl(list(captions), sizes)
        # WebUI's wrapper: 75-token chunks, emphasis, embeddings, clip skip from opts.
        return Conditioning(self.root.cond_stage_model(list(captions)))

    def _encode_sdxl(self, captions: list[str], sizes: list[SizeInfo] | None) -> Conditioning:
        """Like ``sd_models_xl.get_learned_conditioning`` but with each sample's own size embedding,
        and with gradients through the text encoders (sgm's conditioner runs an embedder under
        no_grad unless it is marked trainable)."""
        n = len(captions)
        if sizes is None:
            sizes = [SizeInfo((1024, 1024), (0, 0), (1024, 1024))] * n
        args = {"device": self.device, "dtype": getattr(self._devices, "dtype", torch.float32)}
        aesthetic = getattr(self._opts, "sdxl_refiner_high_aesthetic_score", 6.0)
        batch = {
            "txt": captions,
            "original_size_as_tuple": torch.tensor([list(s.original_size) for s in sizes], **args),
            "crop_coords_top_left": torch.tensor([list(s.crop_top_left) for s in sizes], **args),
            "target_size_as_tuple": torch.tensor([list(s.target_size) for s in sizes], **args),
            "aesthetic_score": torch.tensor([[aesthetic]] * n, **args),
        }
        embedders = list(self.root.conditioner.embedders)
        saved = [(e, getattr(e, "is_trainable", False), getattr(e, "ucg_rate", 0.0)) for e in embedders]
        try:
            for e in self.text_encoders:
                e.is_trainable = True
            for e in embedders:
                e.ucg_rate = 0.0
            out = self.root.conditioner(batch)
        finally:
            for e, trainable, rate in saved:
                e.is_trainable = trainable
                e.ucg_rate = rate
        return Conditioning(out["crossattn"], out["vector"])

    def predict(self, noisy_latents: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        if self.family == "sdxl":
            c: dict[str, Any] = {"crossattn": cond.crossattn, "vector": cond.vector}
        else:
            c = {"c_crossattn": [cond.crossattn]}  # the form WebUI's samplers hand to apply_model
        return self.root.apply_model(noisy_latents, timesteps, c)

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Checkpoint the UNet's transformer and residual blocks (LDM and SGM alike) with per-instance
        forwards, removed again when turned off, so no class WebUI uses elsewhere is patched."""
        self._checkpointed = checkpoint_blocks(self.unet, self._checkpointed, enabled)
