"""A tiny SDXL-shaped model with WebUI's SGM module names, for the te1/te2 and size-conditioning
paths of the trainer:

    model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q      (UNet, SGM names)
    conditioner.embedders.0.wrapped.transformer.text_model.encoder.layers.N.*     (CLIP-L-like → lora_te1_)
    conditioner.embedders.1.wrapped.model.transformer.resblocks.N.attn            (OpenCLIP-like nn.MultiheadAttention → lora_te2_)

``cond_stage_model`` is the same object as ``conditioner``, as WebUI sets it. Conditioning is
{crossattn: both encoders' hidden states side by side, vector: pooled te2 output + size embeddings}.
"""

from __future__ import annotations

import torch
from torch import nn

from model_workbench.training.protocol import Conditioning, SizeInfo
from tests.support.tiny_diffusion import (
    CLIPEmbedderWithCustomWords,
    LinearVAE,
    UNetModel,
    WordTokenizer,
    sd_alphas_cumprod,
    timestep_embedding,
)

DIM = 16
SIZE_DIM = 8


class OpenCLIPBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 2)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(dim, dim * 2))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(dim * 2, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x: (L, B, D)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class OpenCLIPTransformer(nn.Module):
    def __init__(self, dim: int, layers: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList([OpenCLIPBlock(dim) for _ in range(layers)])


class OpenCLIPModel(nn.Module):
    def __init__(self, dim: int, layers: int, tokens: int = 16, vocab: int = 997) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.positional_embedding = nn.Parameter(torch.randn(tokens, dim) * 0.01)
        self.transformer = OpenCLIPTransformer(dim, layers)
        self.ln_final = nn.LayerNorm(dim)
        self.text_projection = nn.Parameter(torch.randn(dim, dim) * dim**-0.5)


class OpenCLIPEmbedder(nn.Module):
    def __init__(self, dim: int, layers: int) -> None:
        super().__init__()
        self.wrapped = nn.Module()
        self.wrapped.model = OpenCLIPModel(dim, layers)
        self.tokenizer = WordTokenizer()

    def forward(self, texts: list[str], clip_skip: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.wrapped.model
        ids = self.tokenizer(texts)
        x = model.token_embedding(ids) + model.positional_embedding[None]
        n = ids.shape[1]
        mask = torch.full((n, n), float("-inf")).triu(1)
        x = x.transpose(0, 1)
        hidden = [x]
        for block in model.transformer.resblocks:
            x = block(x, mask)
            hidden.append(x)
        x = hidden[-max(1, min(clip_skip, len(hidden) - 1))].transpose(0, 1)
        final = model.ln_final(hidden[-1].transpose(0, 1))
        eos = (ids == 2).int().argmax(dim=1)
        pooled = final[torch.arange(ids.shape[0]), eos] @ model.text_projection
        return x, pooled


class SdxlUNet(UNetModel):
    def __init__(self, channels: int, context_dim: int, adm_dim: int) -> None:
        super().__init__(channels, context_dim)
        self.label_emb = nn.Sequential(nn.Linear(adm_dim, channels * 2))

    def forward(self, x, timesteps, context, y):  # type: ignore[override]
        # Same as UNetModel.forward with the vector conditioning added to the time embedding.
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels)) + self.label_emb(y)
        hs = []
        h = x
        for block in self.input_blocks:
            h = block(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb, context)
        return self.out(h)


class TinySGM(nn.Module):
    def __init__(self, seed: int = 0, channels: int = 16) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = nn.Module()
            self.model.diffusion_model = SdxlUNet(channels, 2 * DIM, DIM + 6 * SIZE_DIM)
            self.conditioner = nn.Module()
            self.conditioner.embedders = nn.ModuleList([CLIPEmbedderWithCustomWords(DIM, 2), OpenCLIPEmbedder(DIM, 2)])
            self.first_stage_model = LinearVAE()
        self.cond_stage_model = self.conditioner  # WebUI: sd_model.cond_stage_model = conditioner
        self.register_buffer("alphas_cumprod", sd_alphas_cumprod())


class TinySDXLModel:
    family = "sdxl"

    def __init__(self, seed: int = 0, prediction_type: str = "epsilon") -> None:
        self.root = TinySGM(seed)
        self.prediction_type = prediction_type
        self.received_sizes: list[list[SizeInfo] | None] = []

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.root.alphas_cumprod

    @property
    def device(self) -> torch.device:
        return self.root.alphas_cumprod.device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.root.first_stage_model.encode(pixels.float())

    def encode_captions(self, captions: list[str], clip_skip: int = 1, sizes: list[SizeInfo] | None = None) -> Conditioning:
        self.received_sizes.append(sizes)
        te1, te2 = self.root.conditioner.embedders
        h1 = te1(list(captions), clip_skip)
        h2, pooled = te2(list(captions), clip_skip)
        if sizes is None:
            sizes = [SizeInfo((64, 64), (0, 0), (64, 64))] * len(captions)
        numbers = torch.tensor([[*s.original_size, *s.crop_top_left, *s.target_size] for s in sizes], dtype=torch.float32)
        size_emb = timestep_embedding(numbers.flatten(), SIZE_DIM).reshape(len(captions), -1)
        return Conditioning(torch.cat([h1, h2], dim=-1), torch.cat([pooled, size_emb], dim=-1))

    def predict(self, noisy_latents: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        return self.root.model.diffusion_model(noisy_latents, timesteps, cond.crossattn, cond.vector)

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        from tests.support.tiny_diffusion import ResBlock, SpatialTransformer

        for module in self.root.modules():
            if isinstance(module, (SpatialTransformer, ResBlock)):
                module.checkpointing = enabled
