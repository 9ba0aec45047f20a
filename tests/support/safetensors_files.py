"""Small safetensors files with real tensor-name layouts: the one builder every test and fake uses
(kind detection, header probes, library scans, the fake Hub's repos)."""

from __future__ import annotations

import json
import math
import struct
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "lora-keys"
DTYPE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "I64": 8}


def safetensors_bytes(tensors: dict[str, list[int] | tuple[str, list[int]]], metadata: dict[str, str] | None = None,
                      *, with_data: bool = True, fill: bytes = b"\0") -> bytes:
    """A valid safetensors file: 8-byte header length, JSON header (8-aligned with spaces), ``fill``-filled
    data (``with_data=False``: the header alone, enough for anything that only reads headers)."""
    header: dict = {}
    offset = 0
    for name, spec in tensors.items():
        dtype, shape = spec if isinstance(spec, tuple) else ("F16", spec)
        size = math.prod(shape) * DTYPE_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    body = (fill * offset)[:offset] if with_data else b""
    return struct.pack("<Q", len(raw)) + raw + body


def write_safetensors(path: Path, tensors: dict[str, list[int]], metadata: dict[str, str] | None = None, *,
                      with_data: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(tensors, metadata, with_data=with_data))
    return path


@cache
def lora_modules(table: str) -> tuple[dict, ...]:
    """The modules of a default kohya LoRA for ``table`` ("sd15", "sd2", "sdxl"): ``kohya_key``, ``kohya_module``,
    ``part``, ``lora_down_shape``/``lora_up_shape`` (``"r"`` for the rank)."""
    return tuple(json.loads((DATA / f"lora-keys-{table}.json").read_text(encoding="utf-8"))["modules"])


def with_rank(shape: list, rank: int) -> list[int]:
    return [rank if d == "r" else int(d) for d in shape]


def kohya_lora_tensors(table: str, rank: int = 4) -> dict[str, list[int]]:
    """Every tensor of a default kohya LoRA for ``table`` ("sd15", "sd2", "sdxl"), from the real key tables."""
    tensors: dict[str, list[int]] = {}
    for module in lora_modules(table):
        tensors[module["kohya_key"] + ".lora_down.weight"] = with_rank(module["lora_down_shape"], rank)
        tensors[module["kohya_key"] + ".lora_up.weight"] = with_rank(module["lora_up_shape"], rank)
        tensors[module["kohya_key"] + ".alpha"] = []
    return tensors


def peft_lora_tensors(family: str, rank: int = 4) -> dict[str, list[int]]:
    """A diffusers/PEFT LoRA's layout (``pytorch_lora_weights.safetensors`` as diffusers' training scripts save it)."""
    if family == "flux":
        tensors = {}
        for block in ("transformer.transformer_blocks.0", "transformer.single_transformer_blocks.0"):
            for proj in ("to_q", "to_k", "to_v"):
                tensors[f"{block}.attn.{proj}.lora_A.weight"] = [rank, 3072]
                tensors[f"{block}.attn.{proj}.lora_B.weight"] = [3072, rank]
        return tensors
    context, channels = {"sd1": (768, 320), "sd2": (1024, 320), "sdxl": (2048, 640)}[family]
    block = "unet.down_blocks.1.attentions.0.transformer_blocks.0" if family == "sdxl" else \
        "unet.down_blocks.0.attentions.0.transformer_blocks.0"
    tensors = {
        f"{block}.attn1.to_q.lora_A.weight": [rank, channels],
        f"{block}.attn1.to_q.lora_B.weight": [channels, rank],
        f"{block}.attn2.to_k.lora_A.weight": [rank, context],
        f"{block}.attn2.to_k.lora_B.weight": [channels, rank],
    }
    te_width = 1024 if family == "sd2" else 768
    tensors["text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora_A.weight"] = [rank, te_width]
    tensors["text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora_B.weight"] = [te_width, rank]
    if family == "sdxl":
        tensors["text_encoder_2.text_model.encoder.layers.0.self_attn.k_proj.lora_A.weight"] = [rank, 1280]
        tensors["text_encoder_2.text_model.encoder.layers.0.self_attn.k_proj.lora_B.weight"] = [1280, rank]
    return tensors


def checkpoint_tensors(family: str) -> dict[str, list[int]]:
    """The keys that tell a single-file checkpoint's family (LDM/SGM layout, as WebUI loads it)."""
    unet = "model.diffusion_model"
    if family == "flux":
        return {"double_blocks.0.img_attn.norm.key_norm.scale": [128], "single_blocks.0.linear1.weight": [21504, 3072],
                "img_in.weight": [3072, 64]}
    tensors = {f"{unet}.input_blocks.0.0.weight": [320, 4, 3, 3], f"{unet}.out.2.weight": [4, 320, 3, 3],
               "first_stage_model.encoder.conv_in.weight": [128, 3, 3, 3],
               "first_stage_model.decoder.conv_out.weight": [3, 128, 3, 3]}
    if family == "sd1":
        tensors[f"{unet}.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = [320, 768]
        tensors["cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"] = [49408, 768]
    elif family == "sd2":
        tensors[f"{unet}.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = [320, 1024]
        tensors["cond_stage_model.model.token_embedding.weight"] = [49408, 1024]
    elif family == "sdxl":
        tensors[f"{unet}.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"] = [640, 2048]
        tensors[f"{unet}.label_emb.0.0.weight"] = [1280, 2816]
        tensors["conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"] = [49408, 768]
        tensors["conditioner.embedders.1.model.token_embedding.weight"] = [49408, 1280]
    return tensors
