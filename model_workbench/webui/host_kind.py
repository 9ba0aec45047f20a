"""Which WebUI this is and what it can do, told by what is there (never by version strings).

Three engines exist among the WebUIs our users run:

- ``ldm``: AUTOMATIC1111 1.x: ``shared.sd_model`` is an LDM/SGM model with WebUI's hijack.
- ``forge``: lllyasviel's Forge since mid-2024 and its successors built on it (Forge Neo): the
  ``backend`` package, ``sd_model.forge_objects`` patchers, lazy model loading.
- ``ldm_patched``: the earlier Forge architecture kept by reForge and Forge Classic
  (``ldm_patched`` package).

Training a LoRA works on ``ldm`` and ``forge``; previews work on all three (they go through
``processing.process_images`` with ``<lora:…>``). WebUI's own Textual Inversion and hypernetwork
trainers are looked up where WebUI defines them; Forge commented them out.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from model_workbench.webui import messages


@dataclass(frozen=True)
class HostKind:
    name: str
    engine: str  # "ldm" | "forge" | "ldm_patched"
    version: str = ""
    train_refusal: str | None = None  # why LoRA training is not offered on this host, or None
    has_webui_trainers: bool = False  # WebUI's own embedding / hypernetwork training

    @property
    def is_forge(self) -> bool:
        return self.engine != "ldm"

    def notes(self) -> tuple[str, ...]:
        notes = [self.train_refusal] if self.train_refusal else []
        if self.is_forge and not self.has_webui_trainers:
            notes.append(messages.NO_WEBUI_TRAINERS.format(name=self.name))
            if not self.train_refusal:
                notes.append(messages.LORA_TRAINING_HERE)
        return tuple(notes)


def _has(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _attribute(module: str, name: str) -> object | None:
    try:
        return getattr(importlib.import_module(module), name, None)
    except Exception:  # a variant may have removed or broken the module
        return None


def _forge_version() -> str:
    value = _attribute("modules_forge.forge_version", "version")
    return str(value) if value else ""


def _is_real_trainer(function: object) -> bool:
    """A trainer that is there and not a stub: WebUI's both validate their inputs first (a variant that
    removed training may keep the name with ``pass`` or a raise)."""
    code = getattr(function, "__code__", None)
    return callable(function) and code is not None and "validate_train_inputs" in code.co_names


def _has_webui_trainers() -> bool:
    return _is_real_trainer(_attribute("modules.textual_inversion.textual_inversion", "train_embedding")) and \
        _is_real_trainer(_attribute("modules.hypernetworks.hypernetwork", "train_hypernetwork"))


def detect_host_kind() -> HostKind:
    """The running WebUI, from the packages it has."""
    if not _has("modules_forge"):
        return HostKind("Stable Diffusion WebUI", "ldm", has_webui_trainers=True)
    version = _forge_version()
    trainers = _has_webui_trainers()
    if _has("backend.diffusion_engine"):
        neo = "neo" in version.lower()
        name = "Forge Neo" if neo else "Stable Diffusion WebUI Forge"
        return HostKind(name, "forge", version, None, trainers)
    if _has("ldm_patched"):
        name = "Forge Classic" if version.lower().startswith("classic") else "reForge"
    else:  # neither engine package: an unknown Forge variant, not trained on either
        name = "Stable Diffusion WebUI Forge"
    return HostKind(name, "ldm_patched", version, messages.LDM_PATCHED.format(name=name), trainers)
