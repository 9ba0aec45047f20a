"""Guess a model's base model (SD 1.5, SDXL, Flux...) from its safetensors header alone.

Order of evidence, strongest first:
1. kohya's `ss_base_model_version` (written by sd-scripts since 2023),
2. the Stability "modelspec" `modelspec.architecture`,
3. `ss_v2` / `ss_sd_model_name` (older kohya files),
4. tensor names and shapes (checkpoints and LoRAs without metadata; embeddings by vector width).

Labels use Civitai's base-model vocabulary where one exists ("SD 1.5", "SDXL 1.0", "Pony",
"Flux.1 D"), so the UI can compare a local file with a Civitai listing directly. `family`
is WebUI's coarser "sd version" (SD1/SD2/SDXL) or the architecture for newer models.
"""

from __future__ import annotations

from dataclasses import dataclass

from .kinds import ModelKind
from .safetensors_header import SafetensorsHeader


@dataclass(frozen=True)
class BaseModelGuess:
    label: str  # e.g. "SDXL 1.0"
    family: str  # "SD1", "SD2", "SDXL", "SD3", "Flux"
    source: str  # which evidence decided it, e.g. "ss_base_model_version"

    @property
    def webui_sd_version(self) -> str:
        """The value WebUI's user-metadata `sd version` field accepts."""
        return self.family if self.family in ("SD1", "SD2", "SDXL") else "Unknown"


_FAMILY_DEFAULT_LABEL = {"SD1": "SD 1.5", "SD2": "SD 2.1", "SDXL": "SDXL 1.0", "SD3": "SD 3", "Flux": "Flux.1 D"}


def _guess(family: str, source: str, label: str | None = None) -> BaseModelGuess:
    return BaseModelGuess(label or _FAMILY_DEFAULT_LABEL[family], family, source)


def _refine_sdxl_label(metadata: dict[str, str], guess: BaseModelGuess) -> BaseModelGuess:
    """SDXL derivatives (Pony, Illustrious) are separate base models on Civitai; the training
    base's file name is the only local hint, so use it when it names one."""
    if guess.family != "SDXL":
        return guess
    name = (metadata.get("ss_sd_model_name", "") + " " + metadata.get("modelspec.title", "")).lower()
    if "pony" in name:
        return BaseModelGuess("Pony", "SDXL", guess.source)
    if "illustrious" in name:
        return BaseModelGuess("Illustrious", "SDXL", guess.source)
    if "noob" in name:
        return BaseModelGuess("NoobAI", "SDXL", guess.source)
    return guess


def _from_ss_base_model_version(value: str) -> BaseModelGuess | None:
    v = value.lower()
    source = "ss_base_model_version"
    if v.startswith("sdxl"):
        return _guess("SDXL", source)
    if v.startswith("sd_v2") or v.startswith("sd_2"):
        return _guess("SD2", source)
    if v.startswith("sd_v1") or v.startswith("sd_1"):
        return _guess("SD1", source)
    if v.startswith("sd3"):
        return _guess("SD3", source, "SD 3.5" if "3.5" in v or "3_5" in v else "SD 3")
    if v.startswith("flux"):
        return _guess("Flux", source, "Flux.1 S" if "schnell" in v else "Flux.1 D")
    return None


def _from_modelspec(architecture: str) -> BaseModelGuess | None:
    a = architecture.lower()
    source = "modelspec.architecture"
    if a.startswith("stable-diffusion-xl"):
        return _guess("SDXL", source)
    if a.startswith("stable-diffusion-v2"):
        return _guess("SD2", source)
    if a.startswith("stable-diffusion-v1"):
        return _guess("SD1", source)
    if a.startswith("stable-diffusion-3"):
        return _guess("SD3", source, "SD 3.5" if "3.5" in a or "3-5" in a else "SD 3")
    if a.startswith("flux"):
        return _guess("Flux", source, "Flux.1 S" if "schnell" in a else "Flux.1 D")
    return None


def _from_checkpoint_keys(shapes: dict[str, list[int]]) -> BaseModelGuess | None:
    source = "tensor names"
    keys = shapes.keys()
    if any(k.startswith(("double_blocks.", "model.diffusion_model.double_blocks.")) for k in keys):
        return _guess("Flux", source)
    if any(k.startswith(("joint_blocks.", "model.diffusion_model.joint_blocks.")) for k in keys):
        return _guess("SD3", source)
    if any(k.startswith("conditioner.embedders.") for k in keys):
        # The SDXL refiner has only the OpenCLIP-G encoder (embedders.0.model...).
        if any(k.startswith("conditioner.embedders.1.") for k in keys):
            return _guess("SDXL", source)
        return BaseModelGuess("SDXL Refiner", "SDXL", source)
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return _guess("SD2", source)  # OpenCLIP ViT-H text encoder
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return _guess("SD1", source)  # CLIP ViT-L text encoder
    return None


def _from_lora_keys(shapes: dict[str, list[int]]) -> BaseModelGuess | None:
    source = "tensor names"
    keys = list(shapes.keys())
    if any(k.startswith(("lora_te1_", "lora_te2_")) for k in keys):
        return _guess("SDXL", source)
    if any(k.startswith(("lora_unet_double_blocks_", "lora_unet_single_blocks_", "lora_transformer_")) for k in keys):
        return _guess("Flux", source)
    if any(k.startswith("lora_unet_joint_blocks_") for k in keys):
        return _guess("SD3", source)
    # SD1 and SD2 share kohya's key names; the text encoder width tells them apart (768 vs 1024).
    # Only attention projections are looked at: their input width is the encoder width itself.
    for key in keys:
        if (
            key.startswith("lora_te_")
            and "_self_attn_" in key
            and key.endswith((".lora_down.weight", ".hada_w1_b", ".lora_A.weight"))
        ):
            width = shapes[key][-1] if shapes[key] else 0
            if width == 1024:
                return _guess("SD2", source)
            if width == 768:
                return _guess("SD1", source)
    # An SDXL UNet-only LoRA uses WebUI/SGM block names, SD1/2 use Diffusers names.
    if any(k.startswith(("lora_unet_input_blocks_", "lora_unet_output_blocks_", "lora_unet_middle_block_")) for k in keys):
        return _guess("SDXL", source)
    return None


def _from_embedding_shapes(shapes: dict[str, list[int]]) -> BaseModelGuess | None:
    source = "embedding width"
    if "clip_g" in shapes or "clip_l" in shapes:
        return _guess("SDXL", source)
    for shape in shapes.values():
        if len(shape) == 2 and shape[1] == 768:
            return _guess("SD1", source)
        if len(shape) == 2 and shape[1] == 1024:
            return _guess("SD2", source)
    return None


def guess_base_model(kind: ModelKind, header: SafetensorsHeader) -> BaseModelGuess | None:
    """Best guess of the base model for a safetensors file of `kind`, or None when unknown."""
    metadata = header.metadata
    version = metadata.get("ss_base_model_version")
    if version:
        guess = _from_ss_base_model_version(version)
        if guess:
            return _refine_sdxl_label(metadata, guess)
    architecture = metadata.get("modelspec.architecture")
    if architecture:
        guess = _from_modelspec(architecture)
        if guess:
            return _refine_sdxl_label(metadata, guess)
    if metadata.get("ss_v2", "").lower() == "true":
        return _guess("SD2", "ss_v2")
    if kind is ModelKind.CHECKPOINT:
        return _from_checkpoint_keys(header.shapes)
    if kind is ModelKind.LORA:
        guess = _from_lora_keys(header.shapes)
        if guess:
            return _refine_sdxl_label(metadata, guess)
        # kohya metadata with neither an SDXL nor a v2 marker is an SD1 LoRA; WebUI decides the same.
        if metadata.get("ss_network_module") or metadata.get("ss_sd_model_name"):
            return _guess("SD1", "ss_v2")
        return None
    if kind is ModelKind.EMBEDDING:
        return _from_embedding_shapes(header.shapes)
    return None


def lora_flavour(header: SafetensorsHeader) -> str:
    """"LyCORIS" for LoHa/LoKr/LyCORIS-trained files, "LoRA" otherwise: a label for the UI."""
    module = header.metadata.get("ss_network_module", "").lower()
    if "lycoris" in module:
        return "LyCORIS"
    for key in header.shapes:
        if ".hada_" in key or ".lokr_" in key or key.endswith(".oft_blocks"):
            return "LyCORIS"
        if key.endswith(".dora_scale"):
            return "DoRA"
    return "LoRA"
