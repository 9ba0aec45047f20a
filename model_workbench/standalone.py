"""A host with no WebUI: model folders from flags, settings from a JSON file, no generation.

``python -m model_workbench`` serves the tabs with this host so that browsing Civitai, installing
models and managing the library work without WebUI. Features that need WebUI's loaded model
(generation, training, tagging) answer with a clear message instead of failing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_workbench.host import HostCapabilities, ModelKind, WorkbenchSettings
from model_workbench.host_base import BaseHost
from model_workbench.jsonfile import write_json_atomic
from model_workbench.settings_schema import defaults, settings_from_values

# WebUI's folder name for each kind, relative to its models folder.
WEBUI_MODEL_SUBDIRS: dict[ModelKind, str] = {
    ModelKind.CHECKPOINT: "Stable-diffusion",
    ModelKind.LORA: "Lora",
    ModelKind.LYCORIS: "LyCORIS",
    ModelKind.HYPERNETWORK: "hypernetworks",
    ModelKind.VAE: "VAE",
    ModelKind.CONTROLNET: "ControlNet",
    ModelKind.UPSCALER: "ESRGAN",
    ModelKind.OTHER: "Other",
}

MSG_NEEDS_WEBUI = "Generation, training and tagging need Stable Diffusion WebUI."


@dataclass
class StandaloneConfig:
    """Where the standalone app finds models and keeps its data."""

    models_dir: Path
    data_dir: Path
    folder_flags: dict[ModelKind, Path] = field(default_factory=dict)
    civitai_url: str = ""

    def embeddings_dir(self) -> Path:
        # WebUI keeps embeddings beside its models folder, not in it.
        if self.models_dir.name == "models":
            return self.models_dir.parent / "embeddings"
        return self.models_dir / "embeddings"


class SettingsFile:
    """The standalone app's settings, stored as JSON with the same keys WebUI's config.json uses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> dict[str, Any]:
        values = defaults()
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return values
        except (OSError, ValueError):
            # A broken settings file must not stop the app; the defaults apply and the file stays
            # untouched for the user to fix.
            return values
        if isinstance(stored, dict):
            values.update({k: v for k, v in stored.items() if k in values})
        return values

    def save(self, updates: dict[str, Any]) -> None:
        with self._lock:
            values = self.load()
            values.update({k: v for k, v in updates.items() if k in values})
            # The file can hold the API key: readable by its owner only.
            write_json_atomic(self.path, values, indent=2, mode=0o600)


class StandaloneHost(BaseHost):
    """Model folders from flags; browsing and installing only."""

    def __init__(self, config: StandaloneConfig) -> None:
        super().__init__()
        self.config = config
        self.settings_file = SettingsFile(config.data_dir / "settings.json")

    def capabilities(self) -> HostCapabilities:
        return HostCapabilities(
            name="Model Workbench (standalone)",
            flavor="standalone",
            notes=(MSG_NEEDS_WEBUI,),
        )

    def settings(self) -> WorkbenchSettings:
        values = self.settings_file.load()
        if self.config.civitai_url and not values.get("model_workbench_civitai_base_url"):
            values["model_workbench_civitai_base_url"] = self.config.civitai_url
        return settings_from_values(values)

    def default_model_folders(self) -> dict[ModelKind, list[Path]]:
        folders = {kind: [self.config.models_dir / sub] for kind, sub in WEBUI_MODEL_SUBDIRS.items()}
        folders[ModelKind.EMBEDDING] = [self.config.embeddings_dir()]
        for kind, path in self.config.folder_flags.items():
            folders[kind] = [path]
        return folders

    def data_dir(self) -> Path:
        return self.config.data_dir
