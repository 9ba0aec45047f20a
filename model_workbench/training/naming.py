"""WebUI module names → kohya LoRA keys, for SD1.x, SD2.x and SDXL.

Pure string functions. A "target" is one LoRA module in a kohya file. Most targets are one WebUI
module (a Linear or 1×1 Conv2d). OpenCLIP's ``nn.MultiheadAttention`` (SD2's text encoder, SDXL's
second text encoder) holds q, k and v as row slices of one ``in_proj_weight``: kohya trains them
as three Linears, so one MultiheadAttention gives three targets with ``projection`` "q", "k", "v".

Only kohya's default targets are named: Linear/1×1-conv layers inside the UNet's transformer
stacks (``proj_in``, ``proj_out``, attention ``to_q/to_k/to_v/to_out.0``, ``ff.net.0.proj``,
``ff.net.2``) and the text encoders' attention and MLP layers. The ground truth is
``tests/data/lora-keys/*.json`` (kohya sd-scripts ↔ AUTOMATIC1111 v1.10.1).

With ``conv=True`` (kohya's ``conv_dim``, "LoCon") the UNet's ResBlocks, Downsamples and Upsamples
are targets too, as kohya's ``UNET_TARGET_REPLACE_MODULE_CONV2D_3X3`` makes them: their 3×3 convs
(``Target.conv``) and the ResBlock's time-embedding Linear and 1×1 shortcut. SD1/SD2 keys use
kohya's diffusers names (``down_blocks.0.resnets.0.conv1``), which WebUI maps back to the LDM
module; a sampler where SD1's layout has none keeps its LDM path (``lora_unet_input_blocks_2_0_op``),
which WebUI resolves through its ``lora_unet`` → ``diffusion_model`` fallback. The ground truth is the
fixtures' ``conv_modules``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNET = "unet"
TE = "te"
TE1 = "te1"
TE2 = "te2"

PREFIXES = {UNET: "lora_unet", TE: "lora_te", TE1: "lora_te1", TE2: "lora_te2"}
QKV = ("q", "k", "v")

# Inside one transformer stack the names are the same in LDM/SGM and in diffusers/kohya.
_STACK_LEAF = (
    r"(?P<leaf>proj_in|proj_out|transformer_blocks\.\d+\."
    r"(?:attn[12]\.(?:to_q|to_k|to_v|to_out\.0)|ff\.net\.(?:0\.proj|2)))"
)
# conv_dim targets (LDM names; SGM uses the same ones).
_RES_LEAF_TO_DIFFUSERS = {
    "in_layers.2": "conv1", "out_layers.3": "conv2", "emb_layers.1": "time_emb_proj", "skip_connection": "conv_shortcut",
}
_RESBLOCK_RE = re.compile(
    r"^model\.diffusion_model\."
    r"(?:input_blocks\.(?P<inp>\d+)\.0|middle_block\.(?P<mid>[02])|output_blocks\.(?P<out>\d+)\.0)\."
    r"(?P<leaf>in_layers\.2|out_layers\.3|emb_layers\.1|skip_connection)$"
)
_DOWNSAMPLE_RE = re.compile(r"^model\.diffusion_model\.input_blocks\.(?P<n>\d+)\.0\.op$")
_UPSAMPLE_RE = re.compile(r"^model\.diffusion_model\.output_blocks\.(?P<n>\d+)\.(?P<k>\d+)\.conv$")
_UNET_RE = re.compile(
    r"^model\.diffusion_model\."
    r"(?:input_blocks\.(?P<inp>\d+)\.1|middle_block\.(?P<mid>1)|output_blocks\.(?P<out>\d+)\.1)\."
    + _STACK_LEAF
    + "$"
)
# SD1 (hijacked: cond_stage_model.wrapped.transformer; raw LDM: cond_stage_model.transformer).
_CLIP_LEAF = r"text_model\.encoder\.layers\.(?P<layer>\d+)\.(?P<leaf>self_attn\.(?:q|k|v|out)_proj|mlp\.fc[12])"
_SD1_TE_RE = re.compile(r"^cond_stage_model\.(?:wrapped\.)?transformer\." + _CLIP_LEAF + "$")
# OpenCLIP: SD2's text encoder; SDXL's second one.
_OPENCLIP_LEAF = r"model\.transformer\.resblocks\.(?P<layer>\d+)\.(?P<leaf>attn|attn\.out_proj|mlp\.c_fc|mlp\.c_proj)"
_SD2_TE_RE = re.compile(r"^cond_stage_model\.(?:wrapped\.)?" + _OPENCLIP_LEAF + "$")
# SDXL: WebUI sets cond_stage_model = conditioner, so both names reach the same embedders.
_SDXL_TE1_RE = re.compile(r"^(?:conditioner|cond_stage_model)\.embedders\.0\.(?:wrapped\.)?transformer\." + _CLIP_LEAF + "$")
_SDXL_TE2_RE = re.compile(r"^(?:conditioner|cond_stage_model)\.embedders\.1\.(?:wrapped\.)?" + _OPENCLIP_LEAF + "$")
# Forge holds SD2's and SDXL's OpenCLIP encoders as transformers CLIPTextModels (separate q/k/v
# Linears), which is kohya's own layout: the names map one to one.
_SD2_TE_HF_RE = re.compile(r"^cond_stage_model\.transformer\." + _CLIP_LEAF + "$")
_SDXL_TE2_HF_RE = re.compile(r"^(?:conditioner|cond_stage_model)\.embedders\.1\.transformer\." + _CLIP_LEAF + "$")

_OPENCLIP_TO_KOHYA = {"attn.out_proj": "self_attn.out_proj", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}


@dataclass(frozen=True)
class Target:
    """One kohya LoRA module: its key, which multiplier group it belongs to, its q/k/v slice."""

    kohya_key: str
    part: str  # unet | te | te1 | te2
    projection: str | None = None  # "q" | "k" | "v" for MultiheadAttention in_proj slices
    layer: int | None = None  # text-encoder layer index (used to drop SD2's unused last block)
    conv: bool = False  # a conv_dim (LoCon) target: only there when conv_dim is set


def _key(part: str, path: str) -> str:
    return f"{PREFIXES[part]}_{path.replace('.', '_')}"


def _ldm_block_to_diffusers(inp: str | None, mid: str | None, out: str | None) -> str:
    """LDM block index → diffusers attention path (SD1/SD2 UNet, layers_per_block = 2)."""
    if inp is not None:
        n = int(inp)
        if n < 1:
            raise ValueError(f"input_blocks.{n} holds no attention")
        return f"down_blocks.{(n - 1) // 3}.attentions.{(n - 1) % 3}"
    if mid is not None:
        return "mid_block.attentions.0"
    n = int(out)  # type: ignore[arg-type]
    return f"up_blocks.{n // 3}.attentions.{n % 3}"


def _conv_path(webui_name: str, family: str) -> str | None:
    """The kohya module path of a conv_dim target (ResBlock layer or sampler conv), else None."""
    sgm_path = webui_name[len("model.diffusion_model.") :]
    m = _RESBLOCK_RE.match(webui_name)
    if m:
        if family == "sdxl":
            return sgm_path
        leaf = _RES_LEAF_TO_DIFFUSERS[m.group("leaf")]
        if m.group("inp") is not None:
            n = int(m.group("inp"))
            return f"down_blocks.{(n - 1) // 3}.resnets.{(n - 1) % 3}.{leaf}" if n >= 1 else None
        if m.group("mid") is not None:
            return f"mid_block.resnets.{int(m.group('mid')) // 2}.{leaf}"
        n = int(m.group("out"))
        return f"up_blocks.{n // 3}.resnets.{n % 3}.{leaf}"
    m = _DOWNSAMPLE_RE.match(webui_name)
    if m:
        n = int(m.group("n"))
        # WebUI maps down_blocks.i.downsamplers.0.conv to input_blocks.(3 + 3i).0.op only.
        if family != "sdxl" and n >= 3 and n % 3 == 0:
            return f"down_blocks.{n // 3 - 1}.downsamplers.0.conv"
        return sgm_path
    m = _UPSAMPLE_RE.match(webui_name)
    if m:
        n, k = int(m.group("n")), int(m.group("k"))
        # ... and up_blocks.i.upsamplers.0.conv to output_blocks.(2 + 3i).(2 if i else 1).conv only.
        i = (n - 2) // 3
        if family != "sdxl" and n % 3 == 2 and k == (2 if i > 0 else 1):
            return f"up_blocks.{i}.upsamplers.0.conv"
        return sgm_path
    return None


def targets_for(
    webui_name: str, family: str, is_multihead_attention: bool = False, conv: bool = False
) -> list[Target]:
    """The kohya targets a WebUI module provides; ``[]`` when it is not a default target.

    ``is_multihead_attention`` says the module is an ``nn.MultiheadAttention`` (OpenCLIP ``attn``):
    it then yields q, k and v targets. ``conv`` adds kohya's conv_dim targets (ResBlocks, samplers).
    """
    if family not in ("sd1", "sd2", "sdxl"):
        raise ValueError(f"Unknown model family {family!r}.")
    if conv:
        path = _conv_path(webui_name, family)
        if path is not None:
            return [Target(_key(UNET, path), UNET, conv=True)]
    m = _UNET_RE.match(webui_name)
    if m:
        if family == "sdxl":
            # SDXL keys keep the SGM layout (kohya's SDXL UNet uses those names).
            path = webui_name[len("model.diffusion_model.") :]
        else:
            block = _ldm_block_to_diffusers(m.group("inp"), m.group("mid"), m.group("out"))
            path = f"{block}.{m.group('leaf')}"
        return [Target(_key(UNET, path), UNET)]

    if family == "sd1":
        m = _SD1_TE_RE.match(webui_name)
        return [_clip_target(TE, m)] if m else []
    if family == "sd2":
        m = _SD2_TE_HF_RE.match(webui_name)
        if m:
            return [_clip_target(TE, m)]
        m = _SD2_TE_RE.match(webui_name)
        return _openclip_targets(m, TE, is_multihead_attention) if m else []
    m = _SDXL_TE1_RE.match(webui_name)
    if m:
        return [_clip_target(TE1, m)]
    m = _SDXL_TE2_HF_RE.match(webui_name)
    if m:
        return [_clip_target(TE2, m)]
    m = _SDXL_TE2_RE.match(webui_name)
    return _openclip_targets(m, TE2, is_multihead_attention) if m else []


def _clip_target(part: str, m: re.Match) -> Target:
    """A text-encoder target in the transformers CLIP layout (kohya's own names)."""
    layer = m.group("layer")
    return Target(_key(part, f"text_model.encoder.layers.{layer}.{m.group('leaf')}"), part, None, int(layer))


def _openclip_targets(m: re.Match, part: str, is_mha: bool) -> list[Target]:
    layer = int(m.group("layer"))
    leaf = m.group("leaf")
    base = f"text_model.encoder.layers.{layer}"
    if leaf == "attn":
        if not is_mha:
            return []
        return [Target(_key(part, f"{base}.self_attn.{p}_proj"), part, p, layer) for p in QKV]
    return [Target(_key(part, f"{base}.{_OPENCLIP_TO_KOHYA[leaf]}"), part, None, layer)]


def kohya_key(webui_name: str, family: str, projection: str | None = None, conv: bool = False) -> str:
    """The kohya key of one WebUI module (or of one q/k/v slice of a MultiheadAttention); ``conv``
    names conv_dim targets too."""
    targets = targets_for(webui_name, family, is_multihead_attention=projection is not None, conv=conv)
    for t in targets:
        if t.projection == projection:
            return t.kohya_key
    raise ValueError(f"{webui_name!r} is not a LoRA target of a {family} model.")


def is_text_encoder_key(key: str) -> bool:
    """True for lora_te / lora_te1 / lora_te2 keys (WebUI scales them with the te multiplier)."""
    return key.startswith("lora_te")
