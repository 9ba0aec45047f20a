"""Whether WebUI's own embedding / hypernetwork trainers run here, and whether their files can be previewed.

AUTOMATIC1111 1.10 has both trainers (``train_embedding`` in ``modules/textual_inversion``,
``train_hypernetwork`` in ``modules/hypernetworks``); Forge commented them out, and a variant may keep a
stub, so ``host_kind`` looks for the real functions. Both trainers drive an LDM model (``model.forward(x, c)``
with one text encoder's conditioning) and save single-encoder files: SD 1.x and SD 2.x only. Previews need
the host to load the files when generating: A1111 and Forge load embeddings; Forge no longer applies
hypernetworks (its attention never calls ``apply_hypernetworks``), and its embeddings live in per-encoder
databases filled from the folder, which this adapter does not register steps into yet.
"""

from __future__ import annotations

from typing import Any

from model_workbench.training.webui_kinds import VersionKind, WebuiTrainerSupport
from model_workbench.webui import messages
from model_workbench.webui.host_kind import HostKind


def _family(sd_model: Any) -> str | None:
    """The loaded model's family where WebUI's trainers cannot train it, else None."""
    if sd_model is None:
        return None
    if getattr(sd_model, "is_sdxl", False):
        return "SDXL"
    if getattr(sd_model, "is_sd3", False):
        return "SD 3"
    flags = [getattr(sd_model, name, None) for name in ("is_sd1", "is_sd2")]
    if any(flag is not None for flag in flags) and not any(flags):
        return type(sd_model).__name__
    return None


def train_reason(kind: HostKind, sd_model: Any, cmd_opts: Any) -> str | None:
    """Why WebUI's trainers cannot train here now, or None."""
    if not kind.has_webui_trainers:
        return messages.TRAINERS_REMOVED.format(name=kind.name)
    if getattr(cmd_opts, "lowvram", False):  # both Train tab handlers assert this
        return messages.TRAINERS_LOW_VRAM
    family = _family(sd_model)
    if family:
        return messages.TRAINERS_SD1_SD2.format(family=family)
    return None


def trainer_support(kind: HostKind, sd_model: Any, cmd_opts: Any) -> list[WebuiTrainerSupport]:
    """Per kind: can WebUI's trainer train it here, can its step files be previewed, and if not, why."""
    reason = train_reason(kind, sd_model, cmd_opts)
    hypernet_preview = messages.HYPERNET_PREVIEW_UNSUPPORTED.format(name=kind.name) if kind.is_forge else None
    # Forge keeps one embedding database per text encoder inside its engine, filled from the folder at load.
    embedding_preview = messages.EMBEDDING_PREVIEW_UNSUPPORTED.format(name=kind.name) if kind.engine == "forge" else None
    return [WebuiTrainerSupport(VersionKind.EMBEDDING, reason, embedding_preview),
            WebuiTrainerSupport(VersionKind.HYPERNETWORK, reason, hypernet_preview)]
