"""Write a full-size Stable Diffusion checkpoint filled with random weights.

Why this exists: the test suite's tiny models (``tiny_diffusion``, ``tiny_sdxl``) are fine for the
standalone app and for WebUI's hijacked modules, but Forge refuses them: its loader detects the
architecture from the UNet's key names *and shapes* (``huggingface_guess``) and then builds the real
SD1.5/SDXL UNet, VAE and CLIP, so only a checkpoint with exactly the real layout loads. No real
weights can be downloaded on the CI/dev machines, so this script synthesises one: every key name
and shape of ``v1-5-pruned-emaonly.safetensors`` (original LDM/CompVis layout), generated from the
architecture, with seeded random values that keep a txt2img through it finite (the images are
noise, but they are real images made by the real pipeline).

Usage (from the repository root)::

    python -m tests.support.make_sd15_checkpoint OUT.safetensors [--dtype fp16|fp32] [--seed N]
    python -m tests.support.make_sd15_checkpoint OUT.safetensors --arch sdxl

Layouts:

* ``sd15``: ``model.diffusion_model.*`` (UNet: 320 channels, mult 1,2,4,4, 2 res blocks, attention at
  the first three levels, context 768), ``first_stage_model.*`` (KL-f8 VAE, 4 latent channels),
  ``cond_stage_model.transformer.text_model.*`` (CLIP ViT-L/14 text model, with
  ``embeddings.position_ids``) and LDM's DDPM schedule buffers (``betas``, ``alphas_cumprod``, ...).
* ``sdxl``: the SDXL base layout: ``model.diffusion_model.*`` (320 channels, mult 1,2,4, transformer
  depth 0,2,10, context 2048, ``label_emb`` for the 2816-wide ADM vector),
  ``conditioner.embedders.0.transformer.text_model.*`` (CLIP-L),
  ``conditioner.embedders.1.model.*`` (OpenCLIP ViT-bigG in open_clip layout) and
  ``first_stage_model.*``. Real SDXL files carry no schedule buffers, so none are written.

Values: each tensor gets its own ``torch.Generator`` seeded from ``--seed`` and the tensor's name
(so a tensor does not change when others are added). Weights ~ N(0, 1/fan_in), biases ~ N(0, 0.01²),
norm weights 1 and norm biases 0 (but the text encoder's final shift ~ N(0.25, 0.05²), so that prompt
emphasis never divides by a zero mean), embeddings ~ N(0, 0.02²). The file is streamed to disk one tensor
at a time (the safetensors format is a JSON header followed by raw little-endian data), so peak
memory is about the largest single tensor, even for SDXL.

Only torch and the standard library are used (no WebUI, Forge, diffusers or transformers import).
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

# Kinds of tensors, which decide how a tensor is filled.
WEIGHT = "weight"  # Linear / Conv weight: N(0, 1/fan_in)
BIAS = "bias"  # N(0, 0.01^2)
NORM_W = "norm_weight"  # GroupNorm / LayerNorm scale: 1
NORM_B = "norm_bias"  # GroupNorm / LayerNorm shift: 0
EMBED = "embedding"  # token / position embedding tables: N(0, 0.02^2)
TEXT_OUT_BIAS = "text_out_bias"  # the text encoder's final LayerNorm shift: N(0.25, 0.05^2), see make_tensor
POS_IDS = "position_ids"  # int64 arange, as real CLIP checkpoints store it
LOGIT_SCALE = "logit_scale"  # open_clip's scalar, log(1/0.07)
BUFFER = "buffer"  # DDPM schedule buffer, values given explicitly

DTYPES = {"fp16": torch.float16, "fp32": torch.float32}
SAFETENSORS_DTYPE = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64"}


@dataclass(frozen=True)
class Entry:
    """One tensor of the checkpoint: its full key, shape and how to fill it."""

    name: str
    shape: tuple[int, ...]
    kind: str


Spec = list[Entry]


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------
def linear(p: str, out_f: int, in_f: int, bias: bool = True) -> Spec:
    entries = [Entry(f"{p}.weight", (out_f, in_f), WEIGHT)]
    if bias:
        entries.append(Entry(f"{p}.bias", (out_f,), BIAS))
    return entries


def conv(p: str, out_c: int, in_c: int, k: int) -> Spec:
    return [Entry(f"{p}.weight", (out_c, in_c, k, k), WEIGHT), Entry(f"{p}.bias", (out_c,), BIAS)]


def norm(p: str, c: int) -> Spec:
    return [Entry(f"{p}.weight", (c,), NORM_W), Entry(f"{p}.bias", (c,), NORM_B)]


# --------------------------------------------------------------------------------------------
# UNet (LDM openaimodel.UNetModel; SGM's copy for SDXL has the same names)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UNetConfig:
    model_channels: int
    channel_mult: tuple[int, ...]
    num_res_blocks: int
    transformer_depth: tuple[int, ...]  # per level; 0 = no SpatialTransformer at that level
    transformer_depth_middle: int
    context_dim: int
    use_linear_in_transformer: bool  # SD1: 1x1 conv proj_in/proj_out; SDXL: Linear
    adm_in_channels: int = 0  # SDXL's label_emb input (pooled text + size/crop embeddings)
    in_channels: int = 4
    out_channels: int = 4


SD15_UNET = UNetConfig(
    model_channels=320,
    channel_mult=(1, 2, 4, 4),
    num_res_blocks=2,
    transformer_depth=(1, 1, 1, 0),
    transformer_depth_middle=1,
    context_dim=768,
    use_linear_in_transformer=False,
)

SDXL_UNET = UNetConfig(
    model_channels=320,
    channel_mult=(1, 2, 4),
    num_res_blocks=2,
    transformer_depth=(0, 2, 10),
    transformer_depth_middle=10,
    context_dim=2048,
    use_linear_in_transformer=True,
    adm_in_channels=2816,
)


def res_block(p: str, in_c: int, out_c: int, emb_dim: int) -> Spec:
    entries = norm(f"{p}.in_layers.0", in_c)
    entries += conv(f"{p}.in_layers.2", out_c, in_c, 3)
    entries += linear(f"{p}.emb_layers.1", out_c, emb_dim)
    entries += norm(f"{p}.out_layers.0", out_c)
    entries += conv(f"{p}.out_layers.3", out_c, out_c, 3)
    if in_c != out_c:
        entries += conv(f"{p}.skip_connection", out_c, in_c, 1)
    return entries


def spatial_transformer(p: str, c: int, depth: int, context_dim: int, use_linear: bool) -> Spec:
    def proj(name: str) -> Spec:
        return linear(f"{p}.{name}", c, c) if use_linear else conv(f"{p}.{name}", c, c, 1)

    entries = norm(f"{p}.norm", c) + proj("proj_in")
    for d in range(depth):
        b = f"{p}.transformer_blocks.{d}"
        for attn, kv_dim in (("attn1", c), ("attn2", context_dim)):
            entries += linear(f"{b}.{attn}.to_q", c, c, bias=False)
            entries += linear(f"{b}.{attn}.to_k", c, kv_dim, bias=False)
            entries += linear(f"{b}.{attn}.to_v", c, kv_dim, bias=False)
            entries += linear(f"{b}.{attn}.to_out.0", c, c)
        entries += linear(f"{b}.ff.net.0.proj", c * 8, c)  # GEGLU: 2 × (4c)
        entries += linear(f"{b}.ff.net.2", c, c * 4)
        for n in ("norm1", "norm2", "norm3"):
            entries += norm(f"{b}.{n}", c)
    return entries + proj("proj_out")


def unet_spec(cfg: UNetConfig, prefix: str = "model.diffusion_model.") -> Spec:
    """Mirror UNetModel.__init__'s loops, recording each module's parameters instead of building it."""
    mc = cfg.model_channels
    emb = mc * 4
    p = prefix
    entries = linear(f"{p}time_embed.0", emb, mc) + linear(f"{p}time_embed.2", emb, emb)
    if cfg.adm_in_channels:
        entries += linear(f"{p}label_emb.0.0", emb, cfg.adm_in_channels)
        entries += linear(f"{p}label_emb.0.2", emb, emb)

    def transformer(name: str, c: int, depth: int) -> Spec:
        return spatial_transformer(name, c, depth, cfg.context_dim, cfg.use_linear_in_transformer)

    entries += conv(f"{p}input_blocks.0.0", mc, cfg.in_channels, 3)
    skip_chans = [mc]
    ch = mc
    idx = 1
    last = len(cfg.channel_mult) - 1
    for level, mult in enumerate(cfg.channel_mult):
        for _ in range(cfg.num_res_blocks):
            entries += res_block(f"{p}input_blocks.{idx}.0", ch, mc * mult, emb)
            ch = mc * mult
            if cfg.transformer_depth[level]:
                entries += transformer(f"{p}input_blocks.{idx}.1", ch, cfg.transformer_depth[level])
            skip_chans.append(ch)
            idx += 1
        if level != last:
            entries += conv(f"{p}input_blocks.{idx}.0.op", ch, ch, 3)  # Downsample
            skip_chans.append(ch)
            idx += 1

    entries += res_block(f"{p}middle_block.0", ch, ch, emb)
    entries += transformer(f"{p}middle_block.1", ch, cfg.transformer_depth_middle)
    entries += res_block(f"{p}middle_block.2", ch, ch, emb)

    idx = 0
    for level, mult in reversed(list(enumerate(cfg.channel_mult))):
        for i in range(cfg.num_res_blocks + 1):
            entries += res_block(f"{p}output_blocks.{idx}.0", ch + skip_chans.pop(), mc * mult, emb)
            ch = mc * mult
            layer = 1
            if cfg.transformer_depth[level]:
                entries += transformer(f"{p}output_blocks.{idx}.{layer}", ch, cfg.transformer_depth[level])
                layer += 1
            if level and i == cfg.num_res_blocks:
                entries += conv(f"{p}output_blocks.{idx}.{layer}.conv", ch, ch, 3)  # Upsample
            idx += 1

    entries += norm(f"{p}out.0", ch)
    entries += conv(f"{p}out.2", cfg.out_channels, ch, 3)
    return entries


# --------------------------------------------------------------------------------------------
# VAE (LDM AutoencoderKL, KL-f8: ch 128, ch_mult 1,2,4,4, 2 res blocks, 4 latent channels)
# --------------------------------------------------------------------------------------------
def vae_res(p: str, in_c: int, out_c: int) -> Spec:
    entries = norm(f"{p}.norm1", in_c) + conv(f"{p}.conv1", out_c, in_c, 3)
    entries += norm(f"{p}.norm2", out_c) + conv(f"{p}.conv2", out_c, out_c, 3)
    if in_c != out_c:
        entries += conv(f"{p}.nin_shortcut", out_c, in_c, 1)
    return entries


def vae_mid(p: str, c: int) -> Spec:
    entries = vae_res(f"{p}.block_1", c, c)
    entries += norm(f"{p}.attn_1.norm", c)
    for n in ("q", "k", "v", "proj_out"):
        entries += conv(f"{p}.attn_1.{n}", c, c, 1)
    return entries + vae_res(f"{p}.block_2", c, c)


def vae_spec(
    prefix: str = "first_stage_model.",
    ch: int = 128,
    ch_mult: tuple[int, ...] = (1, 2, 4, 4),
    num_res_blocks: int = 2,
    z_channels: int = 4,
) -> Spec:
    p = prefix
    entries = conv(f"{p}encoder.conv_in", ch, 3, 3)
    in_ch_mult = (1, *ch_mult)
    block_in = ch
    for i, mult in enumerate(ch_mult):
        block_in, block_out = ch * in_ch_mult[i], ch * mult
        for j in range(num_res_blocks):
            entries += vae_res(f"{p}encoder.down.{i}.block.{j}", block_in, block_out)
            block_in = block_out
        if i != len(ch_mult) - 1:
            entries += conv(f"{p}encoder.down.{i}.downsample.conv", block_in, block_in, 3)
    entries += vae_mid(f"{p}encoder.mid", block_in)
    entries += norm(f"{p}encoder.norm_out", block_in)
    entries += conv(f"{p}encoder.conv_out", 2 * z_channels, block_in, 3)

    block_in = ch * ch_mult[-1]
    entries += conv(f"{p}decoder.conv_in", block_in, z_channels, 3)
    entries += vae_mid(f"{p}decoder.mid", block_in)
    for i in reversed(range(len(ch_mult))):
        block_out = ch * ch_mult[i]
        for j in range(num_res_blocks + 1):
            entries += vae_res(f"{p}decoder.up.{i}.block.{j}", block_in, block_out)
            block_in = block_out
        if i != 0:
            entries += conv(f"{p}decoder.up.{i}.upsample.conv", block_in, block_in, 3)
    entries += norm(f"{p}decoder.norm_out", block_in)
    entries += conv(f"{p}decoder.conv_out", 3, block_in, 3)

    entries += conv(f"{p}quant_conv", 2 * z_channels, 2 * z_channels, 1)
    entries += conv(f"{p}post_quant_conv", z_channels, z_channels, 1)
    return entries


# --------------------------------------------------------------------------------------------
# Text encoders
# --------------------------------------------------------------------------------------------
def clip_text_spec(
    prefix: str, width: int = 768, layers: int = 12, mlp: int = 3072, vocab: int = 49408, positions: int = 77
) -> Spec:
    """transformers' CLIPTextModel (``...text_model.*``), with the ``position_ids`` real files store."""
    p = prefix
    entries = [
        Entry(f"{p}embeddings.position_embedding.weight", (positions, width), EMBED),
        Entry(f"{p}embeddings.position_ids", (1, positions), POS_IDS),
        Entry(f"{p}embeddings.token_embedding.weight", (vocab, width), EMBED),
    ]
    for i in range(layers):
        b = f"{p}encoder.layers.{i}"
        entries += norm(f"{b}.layer_norm1", width) + norm(f"{b}.layer_norm2", width)
        entries += linear(f"{b}.mlp.fc1", mlp, width) + linear(f"{b}.mlp.fc2", width, mlp)
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            entries += linear(f"{b}.self_attn.{n}", width, width)
    return entries + [Entry(f"{p}final_layer_norm.weight", (width,), NORM_W),
                      Entry(f"{p}final_layer_norm.bias", (width,), TEXT_OUT_BIAS)]


def open_clip_text_spec(
    prefix: str, width: int = 1280, layers: int = 32, mlp: int = 5120, vocab: int = 49408, positions: int = 77
) -> Spec:
    """open_clip's text tower as SDXL stores it (``conditioner.embedders.1.model.*``), ViT-bigG/14."""
    p = prefix
    entries = [
        Entry(f"{p}positional_embedding", (positions, width), EMBED),
        Entry(f"{p}token_embedding.weight", (vocab, width), EMBED),
        Entry(f"{p}text_projection", (width, width), WEIGHT),
        Entry(f"{p}logit_scale", (), LOGIT_SCALE),
    ]
    for i in range(layers):
        b = f"{p}transformer.resblocks.{i}"
        entries += norm(f"{b}.ln_1", width) + norm(f"{b}.ln_2", width)
        entries += [
            Entry(f"{b}.attn.in_proj_weight", (3 * width, width), WEIGHT),
            Entry(f"{b}.attn.in_proj_bias", (3 * width,), BIAS),
        ]
        entries += linear(f"{b}.attn.out_proj", width, width)
        entries += linear(f"{b}.mlp.c_fc", mlp, width) + linear(f"{b}.mlp.c_proj", width, mlp)
    return entries + norm(f"{p}ln_final", width)


# --------------------------------------------------------------------------------------------
# DDPM schedule buffers (LDM DDPM.register_schedule, "linear" schedule = scaled linear)
# --------------------------------------------------------------------------------------------
def ddpm_buffers(
    linear_start: float = 0.00085, linear_end: float = 0.012, timesteps: int = 1000
) -> dict[str, torch.Tensor]:
    """The persistent buffers LDM registers (computed in float64, stored as float32 like LDM)."""
    betas = torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64) ** 2
    alphas = 1.0 - betas
    ac = torch.cumprod(alphas, dim=0)
    ac_prev = torch.cat([torch.ones(1, dtype=torch.float64), ac[:-1]])
    posterior_variance = betas * (1.0 - ac_prev) / (1.0 - ac)  # v_posterior = 0
    values = {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": ac.sqrt(),
        "sqrt_one_minus_alphas_cumprod": (1.0 - ac).sqrt(),
        "log_one_minus_alphas_cumprod": (1.0 - ac).log(),
        "sqrt_recip_alphas_cumprod": (1.0 / ac).sqrt(),
        "sqrt_recipm1_alphas_cumprod": (1.0 / ac - 1).sqrt(),
        "posterior_variance": posterior_variance,
        "posterior_log_variance_clipped": posterior_variance.clamp(min=1e-20).log(),
        "posterior_mean_coef1": betas * ac_prev.sqrt() / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - ac_prev) * alphas.sqrt() / (1.0 - ac),
    }
    return {k: v.to(torch.float32) for k, v in values.items()}


# --------------------------------------------------------------------------------------------
# Whole checkpoints
# --------------------------------------------------------------------------------------------
def sd15_spec() -> Spec:
    """Every key and shape of v1-5-pruned-emaonly (1143 tensors: UNet 686, VAE 248, CLIP 197, DDPM 12)."""
    entries = unet_spec(SD15_UNET)
    entries += vae_spec()
    entries += clip_text_spec("cond_stage_model.transformer.text_model.")
    entries += [Entry(k, tuple(v.shape), BUFFER) for k, v in ddpm_buffers().items()]
    return entries


def sdxl_spec() -> Spec:
    """Every key and shape of sd_xl_base_1.0 (2515 tensors: UNet 1680, CLIP-L 197, bigG 390, VAE 248)."""
    entries = unet_spec(SDXL_UNET)
    entries += clip_text_spec("conditioner.embedders.0.transformer.text_model.")
    entries += open_clip_text_spec("conditioner.embedders.1.model.")
    entries += vae_spec()
    return entries


ARCHS = {"sd15": sd15_spec, "sdxl": sdxl_spec}


def fan_in(shape: tuple[int, ...]) -> int:
    return math.prod(shape[1:]) if len(shape) > 1 else shape[0]


def make_tensor(entry: Entry, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """The value of one tensor; deterministic in (seed, name)."""
    if entry.kind == POS_IDS:
        return torch.arange(entry.shape[-1], dtype=torch.int64).reshape(entry.shape)
    if entry.kind == BUFFER:
        return ddpm_buffers()[entry.name.rsplit(".", 1)[-1]]
    if entry.kind == NORM_W:
        return torch.ones(entry.shape, dtype=dtype)
    if entry.kind == NORM_B:
        return torch.zeros(entry.shape, dtype=dtype)
    if entry.kind == TEXT_OUT_BIAS:
        # A zero shift would make every token's embedding average exactly 0 after the final LayerNorm;
        # WebUI's and Forge's default prompt emphasis divides by that average, so its gradient explodes
        # and the first training steps turn the conditioning into NaN. Real CLIP's shift is not zero.
        gen = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(entry.name.encode())) % 2**63)
        return (0.25 + 0.05 * torch.randn(entry.shape, generator=gen, dtype=torch.float32)).to(dtype)
    if entry.kind == LOGIT_SCALE:
        return torch.tensor(math.log(1 / 0.07), dtype=dtype)
    std = {WEIGHT: fan_in(entry.shape) ** -0.5, BIAS: 0.01, EMBED: 0.02}[entry.kind]
    gen = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(entry.name.encode())) % 2**63)
    return (torch.randn(entry.shape, generator=gen, dtype=torch.float32) * std).to(dtype)


def tensor_dtype(entry: Entry, dtype: torch.dtype) -> torch.dtype:
    if entry.kind == POS_IDS:
        return torch.int64
    if entry.kind == BUFFER:
        return torch.float32  # the schedule stays exact; real fp16 files vary here
    return dtype


def iter_tensors(spec: Spec, dtype: torch.dtype, seed: int) -> Iterator[tuple[Entry, torch.Tensor]]:
    for entry in spec:
        yield entry, make_tensor(entry, dtype, seed)


def write_safetensors(path: Path, spec: Spec, dtype: torch.dtype, seed: int, metadata: dict[str, str]) -> int:
    """Stream the checkpoint to ``path``: the header is known from the spec, data goes tensor by tensor."""
    names = [e.name for e in spec]
    if len(set(names)) != len(names):
        raise ValueError("duplicate tensor names in the spec")
    ordered = sorted(spec, key=lambda e: e.name)
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for e in ordered:
        dt = tensor_dtype(e, dtype)
        nbytes = math.prod(e.shape) * torch.empty((), dtype=dt).element_size()
        header[e.name] = {
            "dtype": SAFETENSORS_DTYPE[dt],
            "shape": list(e.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # safetensors pads the header to 8 bytes with spaces

    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for e, t in iter_tensors(ordered, dtype, seed):
            expected = header[e.name]
            assert isinstance(expected, dict)
            if list(t.shape) != expected["shape"] or SAFETENSORS_DTYPE[t.dtype] != expected["dtype"]:
                raise AssertionError(f"{e.name}: made {tuple(t.shape)} {t.dtype}, header says {expected}")
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise AssertionError(f"{e.name}: non-finite values")
            f.write(memoryview(t.contiguous().reshape(-1).view(torch.uint8).numpy()))
    tmp.replace(path)
    return offset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write a full-size random-weight SD1.5 (or SDXL) checkpoint in the original LDM layout."
    )
    parser.add_argument("out", type=Path, help="output .safetensors path")
    parser.add_argument(
        "--dtype", choices=sorted(DTYPES), default="fp16", help="dtype of the weights (default fp16)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--arch", choices=sorted(ARCHS), default="sd15", help="checkpoint layout (default sd15)"
    )
    args = parser.parse_args(argv)

    spec = ARCHS[args.arch]()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": "pt",
        "model_workbench.seed": str(args.seed),
        "model_workbench.arch": args.arch,
        "model_workbench.random_weights": "true",
    }
    nbytes = write_safetensors(args.out, spec, DTYPES[args.dtype], args.seed, metadata)
    params = sum(math.prod(e.shape) for e in spec)
    print(
        f"wrote {args.out}: {args.arch}, {len(spec)} tensors, {params / 1e6:.1f}M values, {nbytes / 2**30:.2f} GiB data"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
