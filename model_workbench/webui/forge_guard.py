"""Keep Forge's loaded model exactly as it was around an in-process training run.

Before: load the model's *original* patchers (``forge_objects_original``), which makes Forge's
``LoraLoader`` put back the weights a rendered ``<lora:…>`` merged in; refuse a model Forge keeps
partly in CPU memory; fingerprint every UNet, text-encoder and VAE tensor by name; put normal
views of the same memory in place of the inference tensors (``forge_trainable.as_trainable_tensors``)
and hook the LayerNorms whose input Forge changes in place.

After (finished, interrupted or failed): remove the hooks and checkpointed forwards, put the original
tensors back, restore flags and clip skip, make the next generation re-apply its LoRAs from the
files (Forge caches LoRA state dicts by path and skips re-patching when the file names are the same),
then fingerprint again. The one change allowed is Forge's own: its first text encoding casts the
CLIP token and position embeddings to float32 (same values). On any other difference the checkpoint
is reloaded from its file and checked once more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from model_workbench.host import HostFeatureUnavailable
from model_workbench.webui import messages
from model_workbench.webui.fingerprint import TensorPrint, differences, fingerprint, tensor_print
from model_workbench.webui.forge_trainable import (
    ForgeTrainableModel,
    as_trainable_tensors,
    clone_norm_inputs,
    restore_tensors,
)
from model_workbench.webui.model_guard import ModelChangedError, _examples

log = logging.getLogger(__name__)

# Forge's ClassicTextProcessingEngine casts these to float32 on its first encoding.
FORGE_CASTS = ("token_embedding.wrapped.weight", "token_embedding.weight", "position_embedding.weight")


def forge_modules(engine: Any) -> dict[str, nn.Module]:
    """The modules whose tensors the guard checks: UNet, text encoders, VAE."""
    objects = engine.forge_objects_original
    return {
        "unet": objects.unet.model.diffusion_model,
        "clip": objects.clip.cond_stage_model,
        "vae": objects.vae.first_stage_model,
    }


def named_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            tensors[f"{prefix}.{name}"] = tensor
    return tensors


def take_prints(engine: Any) -> tuple[dict[str, TensorPrint], dict[str, torch.Tensor]]:
    tensors = named_tensors(forge_modules(engine))
    return fingerprint(tensors), tensors


def compare_prints(before: dict[str, TensorPrint], after: dict[str, TensorPrint],
                   after_tensors: dict[str, torch.Tensor]) -> list[str]:
    """Differences, allowing Forge's own float16→float32 cast of the CLIP embeddings when the
    values are the same (the float32 tensor cast back gives the float16 bits exactly)."""
    problems = []
    for name in differences(before, after):
        old, new = before.get(name), after.get(name)
        if old is not None and new is not None and name.endswith(FORGE_CASTS) and old.dtype != new.dtype:
            back = after_tensors[name].to(getattr(torch, old.dtype.replace("torch.", "")))
            if tensor_print(back) == old:
                continue
        problems.append(name)
    return problems


def _loaded_entry(memory_management: Any, patcher: Any) -> Any | None:
    for entry in getattr(memory_management, "current_loaded_models", []):
        if getattr(entry, "model", None) is patcher:
            return entry
    return None


def forget_applied_loras(engine: Any, networks: Any | None) -> None:
    """Make the next generation patch its LoRAs afresh, read from their files."""
    objects = engine.forge_objects_original
    engine.forge_objects = objects.shallow_copy()
    engine.forge_objects_after_applying_lora = objects.shallow_copy()
    engine.current_lora_hash = str([])
    cached = getattr(networks, "load_lora_state_dict", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


@contextmanager
def forge_training(
    current_engine: Callable[[], Any],
    memory_management: Any,
    networks: Any | None,
    reload: Callable[[], None] | None = None,
) -> Iterator[ForgeTrainableModel]:
    """Yield Forge's loaded model as a :class:`ForgeTrainableModel`; on exit make sure it is as it was."""
    engine = current_engine()
    objects = engine.forge_objects_original
    patchers = [objects.unet, objects.clip.patcher, objects.vae.patcher]
    # Loading the original patchers restores what a rendered LoRA merged into the weights.
    memory_management.load_models_gpu(patchers)
    for patcher in patchers:
        entry = _loaded_entry(memory_management, patcher)
        if entry is not None and getattr(entry, "model_accelerated", False):
            raise HostFeatureUnavailable(messages.FORGE_SWAPPED)
    forget_applied_loras(engine, networks)
    before, _ = take_prints(engine)
    modules = forge_modules(engine)
    trained = [modules["unet"], modules["clip"]]
    modes = [(m, m.training) for root in trained for m in root.modules()]
    clip_skips = {name: getattr(e, "clip_skip", None) for name, e in _text_engines(engine).items()}
    swapped: list = []
    handles: list = []
    model: ForgeTrainableModel | None = None
    try:
        swapped = as_trainable_tensors(trained)
        handles = clone_norm_inputs(modules["unet"])
        model = ForgeTrainableModel(engine, memory_management)
        yield model
    finally:
        if model is not None:
            model.set_gradient_checkpointing(False)
        for handle in handles:
            handle.remove()
        restore_tensors(swapped)
        for module, mode in modes:
            module.training = mode
        for name, text_engine in _text_engines(engine).items():
            if clip_skips.get(name) is not None:
                text_engine.clip_skip = clip_skips[name]
        forget_applied_loras(engine, networks)
        _check(before, current_engine, reload, networks)
        memory_management.soft_empty_cache()


def _text_engines(engine: Any) -> dict[str, Any]:
    return {name: getattr(engine, name) for name in ("text_processing_engine", "text_processing_engine_l",
                                                     "text_processing_engine_g") if hasattr(engine, name)}


def _check(before: dict[str, TensorPrint], current_engine: Callable[[], Any],
           reload: Callable[[], None] | None, networks: Any | None) -> None:
    after, tensors = take_prints(current_engine())
    problems = compare_prints(before, after, tensors)
    if not problems:
        return
    if reload is None:
        raise ModelChangedError(messages.MODEL_CHANGED.format(count=len(problems), examples=_examples(problems)))
    log.warning("Model Workbench: Forge's model changed during training (%s); reloading the checkpoint",
                _examples(problems))
    reload()
    forget_applied_loras(current_engine(), networks)
    after, tensors = take_prints(current_engine())
    still = compare_prints(before, after, tensors)
    if still:
        raise ModelChangedError(messages.MODEL_CHANGED.format(count=len(still), examples=_examples(still)))
    log.warning(messages.MODEL_RELOADED.format(count=len(problems), examples=_examples(problems)))
