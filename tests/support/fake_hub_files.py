"""Real bytes for the fake Hub's repos: safetensors files with real key layouts (built with
``tests.support.safetensors_files``), a PNG, diffusers configs.

Every tensor is zeros (only the header's names, dtypes and shapes matter to what reads them; the
install tests verify hashes, not weights), so the files stay small:

- ``kohya_lora_sd15()``: every key of a default kohya sd-scripts LoRA for SD1.5
  (``tests/data/lora-keys/lora-keys-sd15.json``), rank 1, F16, with kohya's ``ss_*`` metadata.
- ``peft_lora_sd15()``: the same modules as diffusers/PEFT writes them (``unet.<module>.lora_A.weight`` /
  ``lora_B.weight``, ``text_encoder.<module>…``), as ``pytorch_lora_weights.safetensors`` has them.
- ``sd15_checkpoint()``: every key of ``v1-5-pruned-emaonly`` (``make_sd15_checkpoint.sd15_spec``) in the
  original LDM layout; tensors of up to 65,536 values keep their real shape (all norms, biases, the first
  conv, the position embedding, the first cross-attention ``to_k`` [320, 768]); larger ones are shrunk to at
  most 4 per dimension, keeping their rank.
- ``diffusers_files()``: a diffusers pipeline folder (``model_index.json``, ``unet/``, ``vae/``, ``text_encoder/``,
  ``scheduler/``) with small safetensors in diffusers key names.
"""

from __future__ import annotations

import io
import json
import math
from functools import lru_cache

from tests.support.safetensors_files import kohya_lora_tensors, lora_modules, safetensors_bytes, with_rank

REAL_SHAPE_LIMIT = 65536
_KEEP_REAL = ("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
              "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight")


@lru_cache(maxsize=1)
def kohya_lora_sd15() -> bytes:
    metadata = {"ss_network_module": "networks.lora", "ss_network_dim": "1", "ss_network_alpha": "1.0",
                "ss_base_model_version": "sd_v1", "ss_v2": "False", "ss_output_name": "castle_lora",
                "ss_tag_frequency": json.dumps({"10_castle": {"castle style": 10}})}
    return safetensors_bytes(kohya_lora_tensors("sd15", rank=1), metadata)


@lru_cache(maxsize=1)
def peft_lora_sd15() -> bytes:
    tensors: dict[str, list[int] | tuple[str, list[int]]] = {}
    for mod in lora_modules("sd15"):
        key = ("unet." if mod["part"] == "unet" else "text_encoder.") + mod["kohya_module"]
        tensors[f"{key}.lora_A.weight"] = with_rank(mod["lora_down_shape"], 1)
        tensors[f"{key}.lora_B.weight"] = with_rank(mod["lora_up_shape"], 1)
    return safetensors_bytes(tensors, {"format": "pt"})


@lru_cache(maxsize=1)
def sd15_checkpoint() -> bytes:
    from tests.support.make_sd15_checkpoint import sd15_spec  # imports torch: only when a test asks

    tensors: dict[str, tuple[str, list[int]]] = {}
    for entry in sd15_spec():
        shape = list(entry.shape)
        if math.prod(shape) > REAL_SHAPE_LIMIT and entry.name not in _KEEP_REAL:
            shape = [min(d, 4) for d in shape]
        dtype = "I64" if entry.kind == "position_ids" else "F32" if entry.kind == "buffer" else "F16"
        tensors[entry.name] = (dtype, shape)
    return safetensors_bytes(tensors, {"format": "pt"})


@lru_cache(maxsize=8)
def png(width: int = 64, height: int = 64, seed: int = 1) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (seed * 53 % 256, seed * 97 % 256, seed * 151 % 256)).save(buf, "PNG")
    return buf.getvalue()


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


def diffusers_files() -> dict[str, bytes]:
    """A Stable Diffusion 1.x pipeline in diffusers' folder layout (what WebUI cannot load as one file)."""
    return {
        "model_index.json": _json({
            "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.27.2",
            "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
            "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"]}),
        "scheduler/scheduler_config.json": _json({"_class_name": "PNDMScheduler", "beta_end": 0.012,
                                                  "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                                                  "num_train_timesteps": 1000, "skip_prk_steps": True}),
        "unet/config.json": _json({"_class_name": "UNet2DConditionModel", "cross_attention_dim": 768,
                                   "in_channels": 4, "out_channels": 4, "sample_size": 64,
                                   "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2}),
        "unet/diffusion_pytorch_model.safetensors": safetensors_bytes({
            "conv_in.weight": ("F16", [320, 4, 3, 3]), "conv_in.bias": ("F16", [320]),
            "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": ("F16", [320, 768]),
            "time_embedding.linear_1.weight": ("F16", [4, 4]), "conv_out.weight": ("F16", [4, 320, 3, 3])},
            {"format": "pt"}),
        "vae/config.json": _json({"_class_name": "AutoencoderKL", "latent_channels": 4, "in_channels": 3}),
        "vae/diffusion_pytorch_model.safetensors": safetensors_bytes({
            "encoder.conv_in.weight": ("F16", [128, 3, 3, 3]), "decoder.conv_out.weight": ("F16", [3, 128, 3, 3]),
            "quant_conv.weight": ("F16", [8, 8, 1, 1])}, {"format": "pt"}),
        "text_encoder/config.json": _json({"architectures": ["CLIPTextModel"], "hidden_size": 768,
                                           "num_hidden_layers": 12}),
        "text_encoder/model.safetensors": safetensors_bytes({
            "text_model.embeddings.position_embedding.weight": ("F16", [77, 768]),
            "text_model.final_layer_norm.weight": ("F16", [768])}, {"format": "pt"}),
    }
