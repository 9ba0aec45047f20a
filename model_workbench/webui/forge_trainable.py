"""Forge's loaded model (the ``backend/`` engine of lllyasviel's Forge) as the trainer's ``TrainableModel``.

Forge keeps the checkpoint as ComfyUI-style patchers: the UNet is
``forge_objects.unet.model.diffusion_model`` (LDM layout, Forge's own layer classes), the text
encoders are transformers ``CLIPTextModel``s inside ``forge_objects.clip.cond_stage_model``
(``clip_l``, ``clip_g``, ``clip_h``), and captions are encoded by the engine's
``text_processing_engine`` (75-token chunks, emphasis, embeddings, clip skip), which keeps gradients
when called outside ``inference_mode``.

Three things stand between that model and a backward pass, and are handled here:

- Every weight is an *inference tensor* (Forge's loader runs under ``torch.inference_mode()``), and
  autograd refuses to save one for backward. :func:`as_trainable_tensors` puts a normal tensor over
  the same memory in place of each parameter and buffer (no copy: no second model in memory);
  :func:`restore_tensors` puts the original objects back afterwards.
- Forge's ``BasicTransformerBlock`` adds the attention outputs into ``x`` in place after
  ``norm1(x)``/``norm2(x)`` saved ``x`` for backward. :func:`clone_norm_inputs` gives those two
  LayerNorms a pre-hook that hands them a copy while gradients are on.
- Names: :func:`named_root` puts the UNet and text encoders under the names WebUI's LDM model
  uses (``model.diffusion_model.…``, ``cond_stage_model.transformer.…``,
  ``conditioner.embedders.N.transformer.…``), so ``training/naming.py`` gives kohya keys that
  Forge and A1111 both load.

Nothing here changes a weight's value; ``forge_guard.py`` checks that around the whole run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from model_workbench.training.protocol import Conditioning, SizeInfo
from model_workbench.webui import messages
from model_workbench.webui.trainable import checkpoint_blocks, model_family

# The LayerNorms whose input Forge's BasicTransformerBlock later changes in place.
_NORMS_WITH_INPLACE_INPUT = ("norm1", "norm2")
# Storage dtypes a LoRA can be trained against (fp8 / nf4 / gguf weights cannot).
TRAINABLE_STORAGE = (torch.float32, torch.float16, torch.bfloat16)


def text_encoders_by_name(engine: Any) -> dict[str, nn.Module]:
    """Forge's text encoders of the loaded model (``clip_l``, ``clip_g``, ``clip_h``), each an
    ``IntegratedCLIP`` whose ``.transformer`` is a transformers ``CLIPTextModel``."""
    joint = engine.forge_objects_original.clip.cond_stage_model
    return {name: module for name, module in joint.named_children() if hasattr(module, "transformer")}


def named_root(family: str, unet: nn.Module, encoders: dict[str, nn.Module]) -> nn.Module:
    """A container giving Forge's modules the names they have in WebUI's LDM model.

    Only a view: the modules stay where Forge keeps them (a module may have several parents)."""
    root = nn.Module()
    model = nn.Module()
    model.diffusion_model = unet
    root.model = model
    if family == "sdxl":
        conditioner = nn.Module()
        conditioner.embedders = nn.ModuleList([encoders["clip_l"], encoders["clip_g"]])
        root.conditioner = conditioner
    elif family == "sd2":
        root.cond_stage_model = encoders["clip_h"]
    else:
        root.cond_stage_model = encoders["clip_l"]
    return root


def _normal_view(tensor: torch.Tensor) -> torch.Tensor:
    """A normal (non-inference) tensor over the same memory: no copy. DLPack hands the storage to a
    new tensor created outside inference mode; a dtype DLPack cannot carry is copied instead."""
    try:
        view = torch.from_dlpack(tensor.detach())
    except (RuntimeError, TypeError, BufferError):
        return tensor.detach().clone()
    return view if not view.is_inference() else tensor.detach().clone()


SwappedTensors = list[tuple[dict, str, torch.Tensor]]


def as_trainable_tensors(modules: Iterable[nn.Module]) -> SwappedTensors:
    """Put a normal tensor over the same memory in place of each inference parameter and buffer.

    No weight is copied (so no second model in memory, whatever its size); parameters are frozen
    (``requires_grad`` off). A tensor registered in several modules (Forge's textual-inversion wrapper
    holds the token embedding twice) gets one view, so it stays shared. Returns what was replaced, for
    :func:`restore_tensors`, which puts the very same objects back."""
    swapped: SwappedTensors = []
    views: dict[int, torch.Tensor] = {}
    seen: set[int] = set()
    with torch.no_grad():
        for root in modules:
            for module in root.modules():
                if id(module) in seen:
                    continue
                seen.add(id(module))
                for store in (module._parameters, module._buffers):
                    for name, tensor in list(store.items()):
                        if tensor is None or not tensor.is_inference():
                            continue
                        if id(tensor) not in views:
                            view = _normal_view(tensor)
                            views[id(tensor)] = nn.Parameter(view, requires_grad=False) if isinstance(
                                tensor, nn.Parameter) else view
                        swapped.append((store, name, tensor))
                        store[name] = views[id(tensor)]  # type: ignore[assignment]
    return swapped


def restore_tensors(swapped: SwappedTensors) -> None:
    """Put back the original (inference) tensors: same objects, same bits, same flags."""
    for store, name, tensor in reversed(swapped):
        store[name] = tensor


def _clone_first_input(module: nn.Module, args: tuple) -> tuple | None:
    if torch.is_grad_enabled() and args and isinstance(args[0], torch.Tensor):
        return (args[0].clone(), *args[1:])
    return None


def clone_norm_inputs(unet: nn.Module) -> list[Any]:
    """Pre-hooks on the transformer blocks' ``norm1``/``norm2``; returns the handles to remove."""
    handles = []
    for module in unet.modules():
        if type(module).__name__ != "BasicTransformerBlock":
            continue
        for name in _NORMS_WITH_INPLACE_INPUT:
            norm = getattr(module, name, None)
            if isinstance(norm, nn.Module):
                handles.append(norm.register_forward_pre_hook(_clone_first_input))
    return handles


def why_not_trainable_forge(engine: Any) -> str | None:
    """Why Forge's loaded model cannot be trained, or None. Call after the model is loaded."""
    if engine is None or getattr(engine, "forge_objects_original", None) is None:
        return messages.NO_MODEL
    if model_family(engine) is None:
        return messages.UNKNOWN_FAMILY
    if getattr(engine, "is_inpaint", False):
        return messages.INPAINTING.format(key="concat")
    kmodel = engine.forge_objects_original.unet.model
    storage = getattr(kmodel, "storage_dtype", None)
    if storage is not None and storage not in TRAINABLE_STORAGE:
        return messages.FORGE_QUANTIZED.format(dtype=str(storage).replace("torch.", ""))
    needed = {"sd1": ("clip_l",), "sd2": ("clip_h",), "sdxl": ("clip_l", "clip_g")}[model_family(engine)]
    if not set(needed) <= text_encoders_by_name(engine).keys():
        return messages.UNKNOWN_FAMILY
    return None


class ForgeTrainableModel:
    """``TrainableModel`` over Forge's loaded engine (enter through ``forge_guard.forge_training``)."""

    def __init__(self, engine: Any, memory_management: Any) -> None:
        family = model_family(engine)
        if family is None:
            raise ValueError(messages.UNKNOWN_FAMILY)
        self.engine = engine
        self.family = family
        self._mm = memory_management
        objects = engine.forge_objects_original
        self._kmodel = objects.unet.model
        self._clip_patcher = objects.clip.patcher
        predictor = self._kmodel.predictor
        self.prediction_type = "v" if getattr(predictor, "prediction_type", "epsilon") == "v_prediction" else "epsilon"
        self.alphas_cumprod = predictor.alphas_cumprod.detach().clone().float()
        self.encoders = text_encoders_by_name(engine)
        self.root = named_root(family, self._kmodel.diffusion_model, self.encoders)
        self._checkpointed: list[nn.Module] = []

    # -- fields ----------------------------------------------------------------------------------
    @property
    def unet(self) -> nn.Module:
        return self._kmodel.diffusion_model

    @property
    def text_encoders(self) -> list[nn.Module]:
        return list(self.encoders.values())

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the UNet computes in (Forge casts stored weights to it layer by layer)."""
        return getattr(self._kmodel, "computation_dtype", None) or next(self.unet.parameters()).dtype

    # -- protocol --------------------------------------------------------------------------------
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        # encode_first_stage runs in inference mode; the clone outside it is an ordinary tensor.
        latents = self.engine.encode_first_stage(pixels.to(self.device, torch.float32))
        return latents.clone()

    def encode_captions(self, captions: list[str], clip_skip: int = 1, sizes: list[SizeInfo] | None = None) -> Conditioning:
        self.engine.set_clip_skip(max(1, int(clip_skip or 1)))
        self._mm.load_model_gpu(self._clip_patcher)
        texts = list(captions)
        if self.family != "sdxl":
            return Conditioning(self.engine.text_processing_engine(texts))
        return self._encode_sdxl(texts, sizes)

    def _encode_sdxl(self, captions: list[str], sizes: list[SizeInfo] | None) -> Conditioning:
        """Forge's ``get_learned_conditioning`` with each sample's own size embedding and gradients."""
        engine = self.engine
        cond_l = engine.text_processing_engine_l(captions)
        cond_g, pooled = engine.text_processing_engine_g(captions)
        if sizes is None:
            sizes = [SizeInfo((1024, 1024), (0, 0), (1024, 1024))] * len(captions)
        rows = []
        for size in sizes:
            values = [*size.original_size, *size.crop_top_left, *size.target_size]  # (h, w, top, left, h, w)
            rows.append(torch.flatten(torch.cat([engine.embedder(torch.Tensor([v])) for v in values])))
        flat = torch.stack(rows).to(pooled)
        return Conditioning(torch.cat([cond_l, cond_g], dim=2), torch.cat([pooled, flat], dim=1))

    def predict(self, noisy_latents: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """The UNet as Forge's ``KModel.apply_model`` calls it, on the DDPM timestep directly."""
        dtype = self.dtype
        extra: dict[str, Any] = {}
        if cond.vector is not None:
            extra["y"] = cond.vector.to(dtype)
        return self.unet(noisy_latents.to(dtype), timesteps.float(), context=cond.crossattn.to(dtype),
                         transformer_options={}, **extra)

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Per-instance checkpointed forwards on the UNet's transformer and residual blocks (Forge's
        own ``checkpoint()`` raises when asked to checkpoint)."""
        self._checkpointed = checkpoint_blocks(self.unet, self._checkpointed, enabled)
