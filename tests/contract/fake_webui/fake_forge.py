"""A Forge-style loaded model (lllyasviel's ``backend/`` engine) over the tests' tiny SD1 model.

It reproduces what makes Forge's model hard to train, as found in a real Forge (main, dfdcbab6):

- everything is built under ``torch.inference_mode()``, so every weight is an inference tensor;
- Linear layers are Forge's ``ForgeOperations.Linear``: a plain ``nn.Module``, not an ``nn.Linear``;
- ``BasicTransformerBlock`` adds the attention outputs into ``x`` in place after ``norm1``/``norm2``
  saved it;
- the text encoder is an ``IntegratedCLIP`` (``.transformer`` = a CLIPTextModel) inside a joint
  encoder; captions go through ``engine.text_processing_engine``, whose first call casts the token
  and position embeddings from float16 to float32;
- a LoRA is applied by patchers: loading a patcher with LoRA patches replaces the patched
  parameters by merged ones and keeps the originals as a backup; loading a patcher without patches
  puts the backup back (``backend.patcher.lora.LoraLoader.refresh``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tests.support import tiny_diffusion as tiny


class Linear(nn.Module):
    """Forge's ``ForgeOperations.Linear``: weight/bias parameters on a plain Module."""

    def __init__(self, source: nn.Linear) -> None:
        super().__init__()
        self.in_features = source.in_features
        self.out_features = source.out_features
        self.weight = nn.Parameter(source.weight.detach().clone())
        self.bias = None if source.bias is None else nn.Parameter(source.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class BasicTransformerBlock(tiny.BasicTransformerBlock):
    """Forge's block: ``x += …`` after the norms saved ``x`` for backward."""

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        n = self.attn1(self.norm1(x))
        x += n
        n = self.attn2(self.norm2(x), context)
        x += n
        skip = x
        x = self.ff(self.norm3(x))
        x += skip
        return x


class UNetModel(tiny.UNetModel):
    """Forge's UNet call: ``unet(x, timesteps, context=…, transformer_options={}, y=…)``."""

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor | None = None, context: torch.Tensor | None = None,
                y: torch.Tensor | None = None, control: Any = None, transformer_options: dict | None = None,
                **kwargs: Any) -> torch.Tensor:
        return super().forward(x, timesteps, context)


def _forge_layers(root: nn.Module) -> None:
    for module in list(root.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                setattr(module, name, Linear(child))
        if type(module) is tiny.BasicTransformerBlock:
            module.__class__ = BasicTransformerBlock


class IntegratedCLIP(nn.Module):
    def __init__(self, transformer: nn.Module) -> None:
        super().__init__()
        self.transformer = transformer
        self.logit_scale = nn.Parameter(torch.tensor(4.6055))


class JointTextEncoder(nn.Module):
    def __init__(self, **encoders: nn.Module) -> None:
        super().__init__()
        for name, module in encoders.items():
            self.add_module(name, module)


class LoraLoader:
    """``backend.patcher.lora.LoraLoader``: merged parameters replace the originals, kept as backup."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.backup: dict[str, nn.Parameter] = {}
        self.loaded_hash = str([])

    @torch.inference_mode()
    def refresh(self, lora_patches: dict) -> None:
        hashes = str(list(lora_patches.keys()))
        if hashes == self.loaded_hash:
            return
        for key, weight in self.backup.items():
            _set_parameter(self.model, key, weight)
        self.backup = {}
        for patches in lora_patches.values():
            for key, delta in patches.items():
                weight = self.model.get_parameter(key)
                self.backup.setdefault(key, weight)
                _set_parameter(self.model, key, nn.Parameter(weight + delta, requires_grad=False))
        self.loaded_hash = hashes


def _set_parameter(root: nn.Module, key: str, value: nn.Parameter) -> None:
    owner, _, name = key.rpartition(".")
    root.get_submodule(owner)._parameters[name] = value


class ModelPatcher:
    def __init__(self, model: nn.Module, loader: LoraLoader | None = None) -> None:
        self.model = model
        self.lora_patches: dict = {}
        if not hasattr(model, "lora_loader"):
            model.lora_loader = loader or LoraLoader(model)
        self.lora_loader = model.lora_loader

    def clone(self) -> ModelPatcher:
        copy = ModelPatcher(self.model, self.lora_loader)
        copy.lora_patches = dict(self.lora_patches)
        return copy

    def add_patches(self, filename: str, patches: dict[str, torch.Tensor]) -> None:
        self.lora_patches[filename] = patches

    def refresh_loras(self) -> None:
        self.lora_loader.refresh(self.lora_patches)


class Predictor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.prediction_type = "epsilon"
        self.register_buffer("alphas_cumprod", tiny.sd_alphas_cumprod())


class KModel(nn.Module):
    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.diffusion_model = unet
        self.predictor = Predictor()
        self.storage_dtype = torch.float32
        self.computation_dtype = torch.float32


class ForgeObjects(SimpleNamespace):
    def shallow_copy(self) -> ForgeObjects:
        return ForgeObjects(unet=self.unet, clip=self.clip, vae=self.vae, clipvision=None)


class TextProcessingEngine:
    """``ClassicTextProcessingEngine``: words → ids → CLIP, clip skip; casts the embeddings to fp32."""

    def __init__(self, clip: IntegratedCLIP) -> None:
        self.clip = clip
        self.clip_skip = 1
        self.tokenizer = tiny.WordTokenizer()

    def __call__(self, texts: list[str]) -> torch.Tensor:
        embeddings = self.clip.transformer.text_model.embeddings
        embeddings.token_embedding = embeddings.token_embedding.to(dtype=torch.float32)
        embeddings.position_embedding = embeddings.position_embedding.to(dtype=torch.float32)
        return self.clip.transformer.text_model(self.tokenizer(list(texts)), self.clip_skip)


class FakeForgeSD1:
    """``shared.sd_model`` in Forge for an SD1 checkpoint (``backend.diffusion_engine.sd15``)."""

    is_sd1, is_sd2, is_sdxl, is_sd3 = True, False, False, False
    is_inpaint = False

    def __init__(self, seed: int = 0) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            unet = tiny.UNetModel(32)
            clip = tiny.CLIPTextModel(tiny.CONTEXT_DIM, 2)
            vae = tiny.LinearVAE()
        unet.__class__ = UNetModel
        _forge_layers(unet)
        _forge_layers(clip)
        # Forge's first text encoding casts these fp16 embeddings to fp32 (same values).
        clip.text_model.embeddings.half()
        with torch.inference_mode():  # Forge's loader: every tensor becomes an inference tensor
            for module in (unet, clip, vae):
                for owner in module.modules():
                    for store in (owner._parameters, owner._buffers):
                        for name, tensor in list(store.items()):
                            if tensor is not None:
                                copy = tensor.detach().clone()
                                store[name] = nn.Parameter(copy) if isinstance(tensor, nn.Parameter) else copy
            kmodel = KModel(unet)
            encoder = JointTextEncoder(clip_l=IntegratedCLIP(clip))
        objects = ForgeObjects(
            unet=ModelPatcher(kmodel),
            clip=SimpleNamespace(cond_stage_model=encoder, patcher=ModelPatcher(encoder)),
            vae=SimpleNamespace(first_stage_model=vae, patcher=ModelPatcher(vae)),
            clipvision=None,
        )
        self.forge_objects = objects
        self.forge_objects_original = objects.shallow_copy()
        self.forge_objects_after_applying_lora = objects.shallow_copy()
        self.current_lora_hash = str([])
        self.text_processing_engine = TextProcessingEngine(encoder.clip_l)
        self.cond_stage_model = None
        self.first_stage_model = None

    def set_clip_skip(self, clip_skip: int) -> None:
        self.text_processing_engine.clip_skip = clip_skip

    @torch.inference_mode()
    def encode_first_stage(self, x: torch.Tensor) -> torch.Tensor:
        return self.forge_objects.vae.first_stage_model.encode(x).to(x)

    # -- what a generation with <lora:…> does --------------------------------------------------
    def apply_lora(self, filename: str, unet_deltas: dict[str, torch.Tensor], clip_deltas: dict[str, torch.Tensor],
                   memory_management: Any) -> None:
        """``networks.load_networks`` + the sampler's ``load_models_gpu``: patchers cloned with the
        patches, loaded, leaving the merged weights in the shared modules."""
        unet = self.forge_objects_original.unet.clone()
        unet.add_patches(filename, unet_deltas)
        clip_patcher = self.forge_objects_original.clip.patcher.clone()
        clip_patcher.add_patches(filename, clip_deltas)
        clip = SimpleNamespace(cond_stage_model=self.forge_objects_original.clip.cond_stage_model, patcher=clip_patcher)
        self.forge_objects = ForgeObjects(unet=unet, clip=clip, vae=self.forge_objects_original.vae, clipvision=None)
        self.forge_objects_after_applying_lora = self.forge_objects.shallow_copy()
        self.current_lora_hash = str([[filename, 1.0, 1.0, False]])
        memory_management.load_models_gpu([unet, clip_patcher])


UNET_Q = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
CLIP_Q = "clip_l.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
