"""Built-in fallback for ``/api/v1/enums`` (used when Civitai cannot be reached).

Model types are the server's ``ModelType`` enum; base models are a recent ``ActiveBaseModel`` list.
"""

from __future__ import annotations

from .types import Enums

MODEL_TYPES = [
    "Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA",
    "Controlnet", "Upscaler", "MotionModule", "VAE", "Poses", "Wildcards", "Workflows", "Detection", "Other",
]

BASE_MODELS = [
    "SD 1.4", "SD 1.5", "SD 1.5 LCM", "SD 1.5 Hyper", "SD 2.0", "SD 2.1", "SDXL 1.0", "SDXL Lightning",
    "SDXL Hyper", "SDXL Turbo", "Pony", "Illustrious", "NoobAI", "SD 3", "SD 3.5", "SD 3.5 Medium",
    "SD 3.5 Large", "Flux.1 S", "Flux.1 D", "Flux.1 Kontext", "AuraFlow", "Hunyuan 1", "HunyuanVideo",
    "Kolors", "Lumina", "PixArt a", "PixArt E", "Stable Cascade", "SVD", "Wan Video", "Other",
]

FILE_TYPES = ["Model", "Pruned Model", "VAE", "Config", "Training Data", "Negative", "Text Encoder", "Archive"]

SORTS = ["Highest Rated", "Most Downloaded", "Most Liked", "Most Discussed", "Most Collected", "Most Images",
         "Newest", "Oldest"]
PERIODS = ["AllTime", "Year", "Month", "Week", "Day"]


def fallback_enums() -> Enums:
    return Enums(list(MODEL_TYPES), list(BASE_MODELS), list(FILE_TYPES), from_server=False)
