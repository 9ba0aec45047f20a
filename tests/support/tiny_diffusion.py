"""A tiny random latent diffusion model with WebUI's SD1 module names, cheap on a CPU.

It implements ``model_workbench.training.protocol.TrainableModel`` so the trainer runs end to end
in CI, and it has a deterministic DDIM ``sample()`` so the test suite's host can render preview
grids with it. Module names follow WebUI's hijacked SD1 model (``shared.sd_model``):

    model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q      (UNet, LDM names)
    model.diffusion_model.input_blocks.1.1.proj_in                                (1×1 Conv2d)
    cond_stage_model.wrapped.transformer.text_model.encoder.layers.0.self_attn.q_proj
    first_stage_model.encoder / .decoder                                          (a fixed linear "VAE")

The "VAE" is a fixed linear map between 8×8 pixel cells and 4 latent channels (mean colour and
brightness), so the latents mean something: an overfitted LoRA makes samples drift towards the
training images' colours, and previews visibly change with the LoRA weight.
"""

from __future__ import annotations

import contextlib
import math
import re
import zlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.checkpoint import checkpoint

from model_workbench.training.protocol import Conditioning, SizeInfo

CONTEXT_DIM = 32
MAX_TOKENS = 16
VOCAB = 997
BOS, EOS = 1, 2


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: on a small, shared CPU box the tiny model's convolutions are an
    order of magnitude faster single-threaded than fighting another process for two cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------
# UNet (LDM layout: input_blocks / middle_block / output_blocks, SpatialTransformer at index 1)
# --------------------------------------------------------------------------------------------
def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class CrossAttention(nn.Module):
    def __init__(self, dim: int, context_dim: int | None = None, heads: int = 2) -> None:
        super().__init__()
        context_dim = context_dim or dim
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        b, n, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], h, d // h).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.to_q(x)), split(self.to_k(context)), split(self.to_v(context)))
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, context_dim: int, heads: int = 2, ff_mult: int = 2) -> None:
        super().__init__()
        self.attn1 = CrossAttention(dim, heads=heads)
        self.ff = FeedForward(dim, ff_mult)
        self.attn2 = CrossAttention(dim, context_dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    def __init__(self, channels: int, context_dim: int, heads: int = 2, ff_mult: int = 2, groups: int = 8) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, context_dim, heads, ff_mult)])
        self.proj_out = nn.Conv2d(channels, channels, 1)
        self.checkpointing = False

    def _forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        h_ = self.proj_in(self.norm(x))
        h_ = h_.flatten(2).transpose(1, 2)
        for block in self.transformer_blocks:
            h_ = block(h_, context)
        h_ = h_.transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(h_)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and torch.is_grad_enabled():
            return checkpoint(self._forward, x, context, use_reentrant=False)
        return self._forward(x, context)


class ResBlock(nn.Module):
    def __init__(self, channels: int, emb_dim: int, out_channels: int | None = None, groups: int = 8) -> None:
        super().__init__()
        out_channels = out_channels or channels
        self.in_layers = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(groups, out_channels), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        )
        self.skip_connection = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)
        self.checkpointing = False

    def _forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x) + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and torch.is_grad_enabled():
            return checkpoint(self._forward, x, emb, use_reentrant=False)
        return self._forward(x, emb)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TimestepEmbedSequential(nn.Sequential):
    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            else:
                x = layer(x)
        return x


class UNetModel(nn.Module):
    """input_blocks: conv_in | Res+ST | Down;  middle: Res+ST+Res;  output: Res+Up | Res+ST | Res+ST."""

    def __init__(self, channels: int = 32, context_dim: int = CONTEXT_DIM, latent_channels: int = 4) -> None:
        super().__init__()
        c, emb = channels, channels * 2
        self.model_channels = c
        self.time_embed = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList(
            [
                TimestepEmbedSequential(nn.Conv2d(latent_channels, c, 3, padding=1)),
                TimestepEmbedSequential(ResBlock(c, emb), SpatialTransformer(c, context_dim)),
                TimestepEmbedSequential(Downsample(c)),
            ]
        )
        self.middle_block = TimestepEmbedSequential(ResBlock(c, emb), SpatialTransformer(c, context_dim), ResBlock(c, emb))
        self.output_blocks = nn.ModuleList(
            [
                TimestepEmbedSequential(ResBlock(2 * c, emb, c), Upsample(c)),
                TimestepEmbedSequential(ResBlock(2 * c, emb, c), SpatialTransformer(c, context_dim)),
                TimestepEmbedSequential(ResBlock(2 * c, emb, c), SpatialTransformer(c, context_dim)),
            ]
        )
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, latent_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        t_emb = timestep_embedding(timesteps, self.model_channels).to(self.time_embed[0].weight.dtype)
        emb = self.time_embed(t_emb)
        hs = []
        h = x
        for block in self.input_blocks:
            h = block(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb, context)
        return self.out(h)


class LDMUNetModel(UNetModel):
    """The real LDM UNet layout (SD1.x: ``LDMUNetModel.sd15()``), same forward as the tiny one.

    input_blocks: conv_in, then per level ``num_res_blocks`` × [Res(, ST)] and a Downsample
    (not after the last level); middle [Res, ST, Res]; output_blocks mirror the levels with one
    extra block each, an Upsample closing every level but the first.
    """

    def __init__(
        self, model_channels: int = 32, channel_mult: tuple[int, ...] = (1, 2), num_res_blocks: int = 1,
        attention_levels: tuple[int, ...] = (0,), heads: int = 2, context_dim: int = CONTEXT_DIM,
        groups: int = 8, ff_mult: int = 2, time_embed_mult: int = 2, latent_channels: int = 4,
    ) -> None:
        nn.Module.__init__(self)  # a different layout from UNetModel.__init__; forward is shared
        mc, emb = model_channels, model_channels * time_embed_mult
        self.model_channels = mc
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))

        def st(ch: int) -> SpatialTransformer:
            return SpatialTransformer(ch, context_dim, heads, ff_mult, groups)

        blocks = [TimestepEmbedSequential(nn.Conv2d(latent_channels, mc, 3, padding=1))]
        skips, ch = [mc], mc
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers: list[nn.Module] = [ResBlock(ch, emb, mult * mc, groups)]
                ch = mult * mc
                if level in attention_levels:
                    layers.append(st(ch))
                blocks.append(TimestepEmbedSequential(*layers))
                skips.append(ch)
            if level != len(channel_mult) - 1:
                blocks.append(TimestepEmbedSequential(Downsample(ch)))
                skips.append(ch)
        self.input_blocks = nn.ModuleList(blocks)
        self.middle_block = TimestepEmbedSequential(ResBlock(ch, emb, ch, groups), st(ch), ResBlock(ch, emb, ch, groups))
        outputs = []
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skips.pop(), emb, mc * mult, groups)]
                ch = mc * mult
                if level in attention_levels:
                    layers.append(st(ch))
                if level and i == num_res_blocks:
                    layers.append(Upsample(ch))
                outputs.append(TimestepEmbedSequential(*layers))
        self.output_blocks = nn.ModuleList(outputs)
        self.out = nn.Sequential(nn.GroupNorm(groups, ch), nn.SiLU(), nn.Conv2d(ch, latent_channels, 3, padding=1))

    @classmethod
    def sd15(cls) -> LDMUNetModel:
        """SD1.5's shapes (860M parameters): use on a GPU or on the meta device."""
        return cls(320, (1, 2, 4, 4), 2, (0, 1, 2), heads=8, context_dim=768, groups=32, ff_mult=4, time_embed_mult=4)


class DiffusionWrapper(nn.Module):
    def __init__(self, unet: UNetModel) -> None:
        super().__init__()
        self.diffusion_model = unet


# --------------------------------------------------------------------------------------------
# Text encoder (HF CLIPTextModel layout under cond_stage_model.wrapped.transformer)
# --------------------------------------------------------------------------------------------
class CLIPAttention(nn.Module):
    def __init__(self, dim: int, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)), is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, dim: int, mult: int = 2) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * mult)
        self.fc2 = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int = 2, mlp_mult: int = 2) -> None:
        super().__init__()
        self.self_attn = CLIPAttention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim)
        self.mlp = CLIPMLP(dim, mlp_mult)
        self.layer_norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int = 2, mlp_mult: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(dim, heads, mlp_mult) for _ in range(layers)])
        self.checkpointing = False


class CLIPEmbeddings(nn.Module):
    def __init__(self, dim: int, vocab: int = VOCAB, tokens: int = MAX_TOKENS) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(tokens, dim)


class CLIPTextTransformer(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int = 2, mlp_mult: int = 2, vocab: int = VOCAB,
                 tokens: int = MAX_TOKENS) -> None:
        super().__init__()
        self.embeddings = CLIPEmbeddings(dim, vocab, tokens)
        self.encoder = CLIPEncoder(dim, layers, heads, mlp_mult)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        h = self.embeddings.token_embedding(ids) + self.embeddings.position_embedding(pos)[None]
        hidden = [h]
        for layer in self.encoder.layers:
            if self.encoder.checkpointing and torch.is_grad_enabled():
                h = checkpoint(layer, h, use_reentrant=False)
            else:
                h = layer(h)
            hidden.append(h)
        # clip skip n: hidden state -n, then the final layer norm (as WebUI and kohya do).
        clip_skip = max(1, min(clip_skip, len(hidden) - 1))
        return self.final_layer_norm(hidden[-clip_skip])


class CLIPTextModel(nn.Module):
    def __init__(self, dim: int, layers: int, **kw: int) -> None:
        super().__init__()
        self.text_model = CLIPTextTransformer(dim, layers, **kw)


class WordTokenizer:
    """Lower-cased words hashed into a small vocabulary; BOS … EOS, padded with EOS."""

    def __init__(self, vocab: int = VOCAB, tokens: int = MAX_TOKENS) -> None:
        self.vocab, self.tokens = vocab, tokens

    def __call__(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            words = re.findall(r"[a-z0-9]+", text.lower())[: self.tokens - 2]
            ids = [BOS] + [3 + zlib.crc32(w.encode()) % (self.vocab - 3) for w in words] + [EOS]
            rows.append(ids + [EOS] * (self.tokens - len(ids)))
        return torch.tensor(rows, dtype=torch.long)


class FrozenCLIPEmbedder(nn.Module):
    def __init__(self, dim: int, layers: int, **kw: int) -> None:
        super().__init__()
        self.transformer = CLIPTextModel(dim, layers, **kw)
        self.tokenizer = WordTokenizer(kw.get("vocab", VOCAB), kw.get("tokens", MAX_TOKENS))


class CLIPEmbedderWithCustomWords(nn.Module):
    """Like WebUI's hijack wrapper: the real encoder sits under ``.wrapped``."""

    def __init__(self, dim: int = CONTEXT_DIM, layers: int = 2, **kw: int) -> None:
        super().__init__()
        self.wrapped = FrozenCLIPEmbedder(dim, layers, **kw)

    @classmethod
    def sd15(cls) -> CLIPEmbedderWithCustomWords:
        """CLIP ViT-L/14's text shapes (123M parameters)."""
        return cls(768, 12, heads=12, mlp_mult=4, vocab=49408, tokens=77)

    def forward(self, texts: list[str], clip_skip: int = 1) -> torch.Tensor:
        ids = self.wrapped.tokenizer(texts).to(self.wrapped.transformer.text_model.final_layer_norm.weight.device)
        return self.wrapped.transformer.text_model(ids, clip_skip)


# --------------------------------------------------------------------------------------------
# "VAE": a fixed linear map between 8×8 RGB cells and 4 latent channels
# --------------------------------------------------------------------------------------------
class LinearVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # rows: latent channels from RGB (brightness, two colour differences, a blend)
        m = torch.tensor([[0.33, 0.33, 0.33], [0.5, -0.5, 0.0], [0.25, 0.25, -0.5], [0.2, -0.1, 0.3]])
        self.encoder = nn.Conv2d(3, 4, 1, bias=False)
        self.decoder = nn.Conv2d(4, 3, 1, bias=False)
        with torch.no_grad():
            self.encoder.weight.copy_(m[:, :, None, None])
            self.decoder.weight.copy_(torch.linalg.pinv(m)[:, :, None, None])
        self.requires_grad_(False)

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encoder(F.avg_pool2d(pixels, 8))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.decoder(latents), scale_factor=8.0, mode="bilinear", align_corners=False)


def sd_alphas_cumprod(steps: int = 1000) -> torch.Tensor:
    """SD's schedule: scaled_linear betas from 0.00085 to 0.012."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, 0).float()


class TinyLDM(nn.Module):
    """The ``shared.sd_model`` look-alike: ``model``, ``cond_stage_model``, ``first_stage_model``.

    ``sd15_shapes`` builds the UNet and text encoder at SD1.5's real sizes (for GPU benchmarks).
    """

    def __init__(self, seed: int = 0, channels: int = 32, te_layers: int = 2, sd15_shapes: bool = False) -> None:
        super().__init__()
        g = torch.random.fork_rng(devices=[])
        with g:
            torch.manual_seed(seed)
            if sd15_shapes:
                self.model = DiffusionWrapper(LDMUNetModel.sd15())
                self.cond_stage_model = CLIPEmbedderWithCustomWords.sd15()
            else:
                self.model = DiffusionWrapper(UNetModel(channels))
                self.cond_stage_model = CLIPEmbedderWithCustomWords(CONTEXT_DIM, te_layers)
            self.first_stage_model = LinearVAE()
        self.register_buffer("alphas_cumprod", sd_alphas_cumprod())
        self.scale_factor = 1.0


class TinyDiffusionModel:
    """``TrainableModel`` over :class:`TinyLDM`, plus a DDIM sampler for previews."""

    family = "sd1"

    def __init__(self, seed: int = 0, prediction_type: str = "epsilon", channels: int = 32, te_layers: int = 2,
                 sd15_shapes: bool = False) -> None:
        self.root = TinyLDM(seed, channels, te_layers, sd15_shapes)
        self.prediction_type = prediction_type
        self.gradient_checkpointing = False

    @classmethod
    def sd15_shaped(cls, device: str = "cuda", dtype: torch.dtype = torch.float16, seed: int = 0) -> TinyDiffusionModel:
        """A random model with SD1.5's UNet and text-encoder shapes, half precision like WebUI's."""
        with torch.device(device):  # initialise on the GPU: 1B parameters are slow on a CPU
            model = cls(seed, sd15_shapes=True)
        model.root.model.to(dtype=dtype)
        model.root.cond_stage_model.to(dtype=dtype)
        return model

    # -- protocol ------------------------------------------------------------------------------
    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.root.alphas_cumprod

    @property
    def device(self) -> torch.device:
        return self.root.alphas_cumprod.device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.root.model.parameters()).dtype

    @property
    def unet(self) -> UNetModel:
        return self.root.model.diffusion_model

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        vae_dtype = self.root.first_stage_model.encoder.weight.dtype
        with torch.no_grad():
            return self.root.first_stage_model.encode(pixels.to(self.device, vae_dtype)) * self.root.scale_factor

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.root.first_stage_model.decode(latents / self.root.scale_factor)

    def encode_captions(self, captions: list[str], clip_skip: int = 1, sizes: list[SizeInfo] | None = None) -> Conditioning:
        return Conditioning(self.root.cond_stage_model(list(captions), clip_skip))

    def predict(self, noisy_latents: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        return self.unet(noisy_latents, timesteps, cond.crossattn)

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        self.gradient_checkpointing = enabled
        for module in self.root.modules():
            if isinstance(module, (SpatialTransformer, ResBlock, CLIPEncoder)):
                module.checkpointing = enabled

    # -- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_latents(
        self, prompt: str, negative_prompt: str = "", seed: int = 0, steps: int = 8, cfg_scale: float = 5.0,
        width: int = 64, height: int = 64, clip_skip: int = 1,
    ) -> torch.Tensor:
        """Deterministic DDIM (η = 0) with classifier-free guidance."""
        modes = [(m, m.training) for m in self.root.modules()]
        self.root.eval()
        try:
            gen = torch.Generator().manual_seed(int(seed))
            x = torch.randn((1, 4, max(1, height // 8), max(1, width // 8)), generator=gen).to(self.device)
            cond = self.encode_captions([negative_prompt, prompt], clip_skip)
            acp = self.alphas_cumprod.to(self.device).double()
            n = len(acp)
            ts = np.linspace(n - 1, 0, max(1, steps)).round().astype(np.int64)
            for i, t in enumerate(ts):
                t_tensor = torch.full((2,), int(t), dtype=torch.long, device=self.device)
                out = self.predict(torch.cat([x, x]), t_tensor, cond).double()
                uncond, conditioned = out.chunk(2)
                out = uncond + cfg_scale * (conditioned - uncond)
                a_t = acp[t]
                if self.prediction_type == "v":
                    x0 = a_t.sqrt() * x - (1 - a_t).sqrt() * out
                    eps = (1 - a_t).sqrt() * x + a_t.sqrt() * out
                else:
                    eps = out
                    x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
                # DDIM's clip_sample: this VAE's latents live in [-1, 1]; clipping the x0 estimate
                # keeps a barely trained model's samples calm instead of saturated noise.
                x0 = x0.clamp(-1.0, 1.0)
                eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
                a_prev = acp[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=torch.float64)
                x = (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps).float()
            return x
        finally:
            for module, flag in modes:
                module.training = flag

    def sample(
        self, prompt: str, negative_prompt: str = "", seed: int = 0, steps: int = 8, cfg_scale: float = 5.0,
        width: int = 64, height: int = 64, clip_skip: int = 1,
    ) -> Image.Image:
        with single_thread():
            latents = self.sample_latents(prompt, negative_prompt, seed, steps, cfg_scale, width, height, clip_skip)
        pixels = self.decode_latents(latents)[0].clamp(-1, 1)
        array = ((pixels.permute(1, 2, 0).cpu().numpy() + 1.0) * 127.5).round().astype(np.uint8)
        image = Image.fromarray(array, "RGB")
        if image.size != (width, height):
            image = image.resize((width, height), Image.BICUBIC)
        return image
