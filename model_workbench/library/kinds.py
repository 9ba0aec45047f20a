"""The kinds of local model files the library knows, and which files count as each kind.

The extension lists mirror what WebUI itself loads for each kind, so the library shows exactly
the models WebUI would show (and not, say, a `.pt` hypernetwork sitting in the LoRA folder's
sibling). Downloads in progress (`.part`) and sidecar files never have a model extension, so
they are excluded by the extension test alone. WebUI also loads embeddings hidden inside PNG/WebP
images; telling those from preview images means decoding every image, so they are not listed.
"""

from __future__ import annotations

import enum
import os

from . import messages


class ModelKind(str, enum.Enum):
    """A kind of local model; the value is the stable identifier stored in caches and the UI."""

    CHECKPOINT = "checkpoint"
    LORA = "lora"  # LoRA, LoCon, LoHa, LoKr, DoRA...: WebUI loads all of LyCORIS from the LoRA folders
    EMBEDDING = "embedding"
    HYPERNETWORK = "hypernetwork"
    VAE = "vae"

    def __str__(self) -> str:
        return self.value


# What WebUI lists for each kind (sd_models.list_models, networks.list_available_networks,
# textual_inversion's EmbeddingDatabase, hypernetwork.list_hypernetworks, sd_vae.refresh_vae_list).
MODEL_EXTENSIONS: dict[ModelKind, frozenset[str]] = {
    ModelKind.CHECKPOINT: frozenset({".safetensors", ".ckpt"}),
    ModelKind.LORA: frozenset({".safetensors", ".ckpt", ".pt"}),
    ModelKind.EMBEDDING: frozenset({".safetensors", ".pt", ".bin"}),
    ModelKind.HYPERNETWORK: frozenset({".pt"}),
    ModelKind.VAE: frozenset({".safetensors", ".ckpt", ".pt"}),
}

# WebUI's checkpoint list leaves out VAEs stored beside checkpoints (`x.vae.safetensors`).
_CHECKPOINT_EXCLUDED_SUFFIXES = (".vae.ckpt", ".vae.safetensors", ".vae.pt")

# The prefix of WebUI's hash-cache titles for each kind (modules/hashes.py callers).
# WebUI stores every VAE under the single title "vae", so a VAE's cached hash may belong to
# another VAE file: `webui_hash_title` returns None for VAEs and the library hashes them itself.
WEBUI_HASH_TITLE_PREFIX: dict[ModelKind, str] = {
    ModelKind.CHECKPOINT: "checkpoint",
    ModelKind.LORA: "lora",
    ModelKind.EMBEDDING: "textual_inversion",
    ModelKind.HYPERNETWORK: "hypernet",
}

# Previews WebUI's Extra Networks cards find (ExtraNetworksPage.find_preview): `<stem>.<ext>` and
# `<stem>.preview.<ext>`. The library only writes `.preview.png`, but any of these counts as present.
PREVIEW_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif")
USER_METADATA_SUFFIX = ".json"
CIVITAI_INFO_SUFFIX = ".civitai.info"


def parse_kind(value: str | ModelKind) -> ModelKind:
    """Return the ModelKind for `value`, accepting a few common spellings (`lycoris`, `ti`...)."""
    if isinstance(value, ModelKind):
        return value
    text = str(value).strip().lower()
    aliases = {
        "lycoris": ModelKind.LORA,
        "locon": ModelKind.LORA,
        "textual_inversion": ModelKind.EMBEDDING,
        "textualinversion": ModelKind.EMBEDDING,
        "ti": ModelKind.EMBEDDING,
        "hypernet": ModelKind.HYPERNETWORK,
        "ckpt": ModelKind.CHECKPOINT,
        "stable-diffusion": ModelKind.CHECKPOINT,
    }
    if text in aliases:
        return aliases[text]
    try:
        return ModelKind(text)
    except ValueError:
        raise ValueError(messages.unknown_kind(value, [k.value for k in ModelKind])) from None


def is_model_file(kind: ModelKind, filename: str) -> bool:
    """True when a file called `filename` is listed by WebUI as a model of `kind`."""
    lower = filename.lower()
    ext = os.path.splitext(lower)[1]
    if ext not in MODEL_EXTENSIONS[kind]:
        return False
    return not (kind is ModelKind.CHECKPOINT and lower.endswith(_CHECKPOINT_EXCLUDED_SUFFIXES))


def webui_hash_title(kind: ModelKind, relative_path: str) -> str | None:
    """The title WebUI files this model's SHA256 under in its hash cache, or None for VAEs.

    Checkpoints are keyed by their path relative to the checkpoint folder *with* extension
    (CheckpointInfo.name); the other kinds by the bare file stem. `relative_path` uses '/'.
    """
    prefix = WEBUI_HASH_TITLE_PREFIX.get(kind)
    if prefix is None:
        return None
    if kind is ModelKind.CHECKPOINT:
        # WebUI builds the name with os.path.relpath, so it uses the platform's separator.
        return f"{prefix}/{relative_path.replace('/', os.sep)}"
    stem = os.path.splitext(relative_path.rsplit("/", 1)[-1])[0]
    return f"{prefix}/{stem}"
