"""What a model file is, from its safetensors header alone: kind, family, key format, and whether WebUI loads it.

A pure function of the header (no I/O), so the same rules serve a local file and a Hub file whose header
was read with a range request. The evidence is the tensor names real files carry:

- checkpoints: LDM/SGM names (``model.diffusion_model.…`` with ``cond_stage_model.…`` or ``conditioner.…``);
  Flux's ``double_blocks``/``single_blocks``; SD3's ``joint_blocks``;
- LoRA: kohya names (``lora_unet_…``, ``lora_te_…``, ``lora_te1_``/``lora_te2_`` for SDXL; LyCORIS adds
  ``hada_``/``lokr_`` tensors) or diffusers/PEFT names (``unet.…``/``transformer.…`` + ``lora_A``/``lora_B``);
- embeddings: ``emb_params``, ``string_to_param.…``, or SDXL's ``clip_l`` + ``clip_g``;
- VAE: ``encoder.…``/``decoder.…`` without a diffusion model; ControlNet: ``control_model.…``,
  ``input_hint_block`` or diffusers' ``controlnet_…``.

Whether WebUI loads a file follows WebUI v1.10.1's source: its Lora extension splits every key at the
first "." and only maps kohya names (``networks.load_network``), so PEFT keys such as
``unet.down_blocks.0….lora_A.weight`` match no module (SD3's ``transformer.transformer_blocks`` is the one
exception: SD3 models carry a diffusers weight map). Forge's loader (ComfyUI's ``model_lora_keys_unet``)
maps diffusers and PEFT keys too. A1111 1.10 has no Flux support at all.
"""

from __future__ import annotations

import os

from model_workbench.huggingface.types import FileKind

from . import file_kind_messages as m
from .base_model import guess_base_model
from .kinds import ModelKind
from .safetensors_header import SafetensorsHeader

# base_model's families → FileKind's lower-case family names
_FAMILY = {"SD1": "sd1", "SD2": "sd2", "SDXL": "sdxl", "SD3": "sd3", "Flux": "flux"}

# The text encoder width (cross-attention context) of each UNet family.
_CONTEXT_WIDTH = {768: "sd1", 1024: "sd2", 2048: "sdxl"}

_KOHYA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_te3_", "lora_transformer_",
                   "lycoris_", "oft_unet_", "lora_prior_unet_")
_PEFT_SUFFIXES = (".lora_A.weight", ".lora_B.weight", ".lora.down.weight", ".lora.up.weight",
                  "_lora.down.weight", "_lora.up.weight", ".lora_A.default.weight", ".lora_B.default.weight")
_LYCORIS_MARKERS = (".hada_", ".lokr_", ".oft_blocks", ".oft_diag")

MODEL_FILE_EXTENSIONS = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin")
PICKLE_EXTENSIONS = (".ckpt", ".pt", ".pth", ".bin")


def classify_header(header: SafetensorsHeader, *, forge: bool = False) -> FileKind:
    """The kind of a safetensors file from its header; ``forge`` says which loader decides ``loadable``."""
    keys = list(header.shapes)
    if _is_embedding(keys):
        return FileKind("embedding", _family(guess_base_model(ModelKind.EMBEDDING, header)), "webui")
    if any(k.startswith(_KOHYA_PREFIXES) for k in keys):
        return _kohya_lora(header, forge)
    if any(k.endswith(_PEFT_SUFFIXES) for k in keys):
        return _peft_lora(header, forge)
    if any(k.startswith("control_model.") or "input_hint_block" in k for k in keys):
        return FileKind("controlnet", _unet_family(header, "control_model."), "ldm")
    if any(k.startswith("controlnet_") for k in keys):
        return FileKind("controlnet", _unet_family(header, ""), "diffusers")
    checkpoint = _checkpoint(header, forge)
    if checkpoint is not None:
        return checkpoint
    vae = _vae(keys)
    if vae is not None:
        return vae
    if any(k.startswith(("down_blocks.", "mid_block.", "text_model.", "encoder.block.")) for k in keys):
        # one component of a diffusers folder (its UNet or text encoder), saved on its own
        return FileKind("", "", "diffusers", loadable=False, reason=m.MSG_DIFFUSERS_FOLDER)
    return FileKind(note=m.MSG_UNKNOWN_LAYOUT)


def classify_by_name(path: str, size: int) -> FileKind:
    """A pickle file (.ckpt/.pt/.bin) cannot be read without downloading it whole: guess from name and size."""
    name = path.rsplit("/", 1)[-1].lower()
    stem = os.path.splitext(name)[0]
    if "vae" in stem:
        kind = "vae"
    elif "control" in stem:
        kind = "controlnet"
    elif "lora" in stem or "lycoris" in stem or "locon" in stem:
        kind = "lora"
    elif name.endswith(".bin") and "learned_embeds" in stem or size < 1 << 20:
        kind = "embedding"  # textual inversion files are a few KB; diffusers saves them as learned_embeds.bin
    elif size >= 1 << 30:
        kind = "checkpoint"
    elif name.endswith((".pt", ".pth")) and size < 400 << 20:
        kind = "lora"
    else:
        kind = ""
    return FileKind(kind, "", "", note=m.MSG_PICKLE_WARNING)


def diffusers_component_paths(paths: list[str]) -> set[str]:
    """The weight files of a repo that belong to a diffusers folder layout (``model_index.json`` with
    ``unet/``, ``text_encoder/`` … subfolders, or any folder holding a ``config.json``).

    A repo may also carry a single-file checkpoint at its root beside those folders (as
    stabilityai/stable-diffusion-xl-base-1.0 does): root files are not components.
    """
    config_dirs = {p.rsplit("/", 1)[0] if "/" in p else "" for p in paths if p.rsplit("/", 1)[-1] == "config.json"}
    has_index = "model_index.json" in paths
    out = set()
    for path in paths:
        if not path.lower().endswith(MODEL_FILE_EXTENSIONS):
            continue
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        name = path.rsplit("/", 1)[-1]
        in_component = folder != "" and (has_index or folder in config_dirs)
        root_component = folder == "" and "" in config_dirs and name.startswith(("diffusion_pytorch_model", "model."))
        if in_component or root_component:
            out.add(path)
    return out


def diffusers_folder_kind() -> FileKind:
    return FileKind("", "", "diffusers", loadable=False, reason=m.MSG_DIFFUSERS_FOLDER)


# -- the rules ---------------------------------------------------------------------------------------

def _family(guess: object) -> str:
    return _FAMILY.get(getattr(guess, "family", ""), "")


def _is_embedding(keys: list[str]) -> bool:
    if not keys or len(keys) > 8:
        return False
    return all(k in ("emb_params", "clip_l", "clip_g") or k.startswith("string_to_param") for k in keys)


def _kohya_lora(header: SafetensorsHeader, forge: bool) -> FileKind:
    family = _family(guess_base_model(ModelKind.LORA, header))
    lycoris = any(marker in k for k in header.shapes for marker in _LYCORIS_MARKERS)
    fmt = "lycoris" if lycoris or "lycoris" in header.metadata.get("ss_network_module", "").lower() else "kohya"
    if family == "flux" and not forge:
        return FileKind("lora", family, fmt, loadable=False, reason=m.MSG_FLUX_NOT_LOADABLE)
    return FileKind("lora", family, fmt)


def _peft_lora(header: SafetensorsHeader, forge: bool) -> FileKind:
    keys = list(header.shapes)
    family = _peft_family(header)
    if forge:
        return FileKind("lora", family, "peft")
    if family == "flux":
        return FileKind("lora", family, "peft", loadable=False, reason=m.MSG_FLUX_NOT_LOADABLE)
    # SD3 models in WebUI 1.10 carry a diffusers weight map for exactly these names.
    if family == "sd3" and all(k.startswith("transformer.transformer_blocks.") for k in keys):
        return FileKind("lora", family, "peft")
    return FileKind("lora", family, "peft", loadable=False, reason=m.MSG_PEFT_LORA_NOT_LOADABLE)


def _peft_family(header: SafetensorsHeader) -> str:
    keys = list(header.shapes)
    if any(k.startswith(("text_encoder_2.", "te2.")) or "add_embedding" in k for k in keys):
        return "sdxl"
    if any("single_transformer_blocks." in k or "double_blocks." in k or "single_blocks." in k for k in keys):
        return "flux"
    if any(k.startswith("transformer.transformer_blocks.") for k in keys):
        # Flux and SD3 share diffusers' block names; the hidden width tells them apart (3072 is Flux).
        widths = {header.shapes[k][-1] for k in keys if k.endswith(".lora_A.weight") and ".attn.to_q" in k}
        return "flux" if 3072 in widths else "sd3"
    for key in keys:  # the width of a cross-attention key projection is the text encoder's
        if ".attn2.to_k" in key and key.endswith((".lora_A.weight", "_lora.down.weight", ".lora.down.weight")):
            family = _CONTEXT_WIDTH.get(header.shapes[key][-1] if header.shapes[key] else 0)
            if family:
                return family
    for key in keys:
        if key.startswith("text_encoder.") and "self_attn.k_proj" in key and key.endswith(".lora_A.weight"):
            return {768: "sd1", 1024: "sd2"}.get(header.shapes[key][-1] if header.shapes[key] else 0, "")
    return ""


def _unet_family(header: SafetensorsHeader, prefix: str) -> str:
    """SD1/SD2/SDXL from the width of a cross-attention key projection (the text encoder's width)."""
    for key, shape in header.shapes.items():
        if key.startswith(prefix) and key.endswith("attn2.to_k.weight") and len(shape) == 2:
            family = _CONTEXT_WIDTH.get(shape[1])
            if family:
                return family
    if any(k.startswith(prefix + "label_emb.") or k.startswith(prefix + "add_embedding.") for k in header.shapes):
        return "sdxl"
    return ""


def _checkpoint(header: SafetensorsHeader, forge: bool) -> FileKind | None:
    keys = list(header.shapes)
    flux = any(k.startswith(("double_blocks.", "single_blocks.", "model.diffusion_model.double_blocks."))
               for k in keys)
    if flux:
        if forge:
            return FileKind("checkpoint", "flux", "ldm")
        return FileKind("checkpoint", "flux", "ldm", loadable=False, reason=m.MSG_FLUX_NOT_LOADABLE)
    if not any(k.startswith(("model.diffusion_model.", "joint_blocks.")) for k in keys):
        return None
    family = _family(guess_base_model(ModelKind.CHECKPOINT, header)) or _unet_family(header, "model.diffusion_model.")
    return FileKind("checkpoint", family, "ldm")


def _vae(keys: list[str]) -> FileKind | None:
    for prefix in ("", "first_stage_model.", "vae."):
        if any(k.startswith(prefix + "encoder.") for k in keys) and any(k.startswith(prefix + "decoder.") for k in keys):
            if any(k.startswith(prefix + "encoder.down_blocks.") for k in keys):
                return FileKind("vae", "", "diffusers", loadable=False, reason=m.MSG_DIFFUSERS_VAE)
            return FileKind("vae", "", "ldm")
    return None
