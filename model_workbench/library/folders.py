"""Which folder a Civitai model belongs in, as WebUI sees it.

The host passes its folder overrides (WebUI's ``--ckpt-dir``, ``--lora-dir``, ``--embeddings-dir``,
``--hypernetwork-dir``, ``--vae-dir``, ``--lyco-dir`` …); anything not overridden goes to the
default folder under the WebUI root. LoCon goes to ``models/Lora`` (WebUI ≥1.5 loads it there)
unless the host gives a LyCORIS folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from model_workbench.bidi import strip_bidi
from model_workbench.downloads.filenames import sanitize_filename

# folder key → default path relative to the WebUI root
DEFAULT_FOLDERS: dict[str, str] = {
    "checkpoint": "models/Stable-diffusion",
    "lora": "models/Lora",
    "lycoris": "models/LyCORIS",
    "embeddings": "embeddings",
    "hypernetworks": "models/hypernetworks",
    "vae": "models/VAE",
    "controlnet": "models/ControlNet",
    "esrgan": "models/ESRGAN",
    "motion": "models/AnimateDiff",
    "poses": "models/Poses",
    "wildcards": "models/wildcards",
    "detection": "models/adetailer",
    "text_encoder": "models/text_encoder",
    "other": "models/Other",
}

# Civitai ModelType (lower-cased) → folder key
TYPE_TO_KEY: dict[str, str] = {
    "checkpoint": "checkpoint",
    "unet": "checkpoint",
    "textualinversion": "embeddings",
    "embedding": "embeddings",  # the library's kind names, as a Hub file's FileKind gives them
    "hypernetwork": "hypernetworks",
    "lora": "lora",
    "locon": "lora",  # → "lycoris" only when the host has such a folder
    "dora": "lora",
    "lycoris": "lora",
    "vae": "vae",
    "controlnet": "controlnet",
    "upscaler": "esrgan",
    "motionmodule": "motion",
    "poses": "poses",
    "wildcards": "wildcards",
    "detection": "detection",
    "textencoder": "text_encoder",
    "clip": "text_encoder",
}

# Override keys as hosts may spell them (WebUI flags, Civitai types, our keys) → folder key
_ALIASES = {
    "ckpt": "checkpoint", "checkpoints": "checkpoint", "stablediffusion": "checkpoint",
    "embedding": "embeddings", "textualinversion": "embeddings", "ti": "embeddings",
    "hypernetwork": "hypernetworks", "lyco": "lycoris", "locon": "lycoris",
    "esrganmodels": "esrgan", "upscaler": "esrgan", "upscalers": "esrgan",
    "motionmodule": "motion", "animatediff": "motion", "textencoder": "text_encoder",
}


def normalize_key(key: str) -> str:
    """``--lora-dir`` / ``lora_dir`` / ``LORA`` → ``lora``; ``esrgan_models_path`` → ``esrgan``."""
    k = re.sub(r"[^a-z0-9]", "", key.lower())
    for suffix in ("modelspath", "path", "dir"):
        if k.endswith(suffix) and len(k) > len(suffix):
            k = k[: -len(suffix)]
            break
    if k == "textencoder":
        return "text_encoder"
    return _ALIASES.get(k, k)


def folder_key(model_type: str, file_type: str | None = None, overrides: Mapping[str, object] | None = None) -> str:
    """The folder key for a Civitai model type (and, optionally, the file's own type, e.g. a bundled VAE)."""
    if file_type and file_type.strip().lower() == "vae":
        return "vae"
    t = re.sub(r"[^a-z]", "", (model_type or "").lower())
    key = TYPE_TO_KEY.get(t, "other")
    if t == "locon" and overrides and "lycoris" in {normalize_key(k) for k in overrides}:
        key = "lycoris"
    return key


SUBFOLDER_ABSOLUTE = ("The subfolder {path} is an absolute path: type a folder inside the model folder, such as "
                      "styles or SDXL/characters.")
SUBFOLDER_CLIMBS = "The subfolder {path} leaves the model folder (..): type a folder inside it, such as styles."
SUBFOLDER_BAD_CHARACTERS = ('The subfolder {path} contains characters not allowed in folder names (< > : " | ? * or '
                            "control characters).")
_ILLEGAL_IN_FOLDER = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def check_subfolder(subfolder: str | None) -> Path | None:
    """A subfolder the user typed, as a relative path; ``ValueError`` with a sentence for anything that
    would land elsewhere than it says (an absolute path, ``..``, characters a folder name cannot have)."""
    text = strip_bidi(subfolder or "").strip()
    if not text:
        return None
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise ValueError(SUBFOLDER_ABSOLUTE.format(path=text))
    parts = [p.strip() for p in re.split(r"[\\/]+", text) if p.strip() not in ("", ".")]
    if ".." in parts:
        raise ValueError(SUBFOLDER_CLIMBS.format(path=text))
    if any(_ILLEGAL_IN_FOLDER.search(p) for p in parts):
        raise ValueError(SUBFOLDER_BAD_CHARACTERS.format(path=text))
    return safe_subfolder(text)


def safe_subfolder(subfolder: str | None) -> Path | None:
    """A relative path of sanitised components; never absolute, never climbing with ``..``."""
    if not subfolder:
        return None
    parts = [p for p in re.split(r"[\\/]+", subfolder) if p.strip() and p.strip() not in (".", "..")]
    clean = [sanitize_filename(p, "_") for p in parts]
    return Path(*clean) if clean else None


def model_folder(model_type: str, webui_root: str | Path, overrides: Mapping[str, str | Path] | None = None,
                 subfolder: str | None = None, file_type: str | None = None) -> Path:
    """Where a model of this type goes: the host's override for its folder, else WebUI's default, plus a subfolder."""
    normalized = {normalize_key(k): Path(v) for k, v in (overrides or {}).items() if v}
    key = folder_key(model_type, file_type, normalized)
    base = normalized.get(key) or Path(webui_root) / DEFAULT_FOLDERS[key]
    sub = safe_subfolder(subfolder)
    return base / sub if sub else base
