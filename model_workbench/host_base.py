"""Behaviour shared by every host: folder overrides, a GPU lock, clear "not here" answers.

A concrete host supplies :meth:`BaseHost.default_model_folders` and whatever it can do beyond
that; everything it cannot do raises :class:`HostFeatureUnavailable` with a message the UI shows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from model_workbench.host import (
    BaseCheckpoint,
    GenerationRequest,
    GenerationResult,
    HostCapabilities,
    HostFeatureUnavailable,
    ModelKind,
    ProgressCallback,
    ProgressUpdate,
    StopFlag,
    WorkbenchSettings,
)
from model_workbench.training.webui_kinds import (
    StepSnapshot,
    VersionKind,
    WebuiTrainerSupport,
    WebuiTrainRequest,
)

MSG_NEEDS_WEBUI = (
    "{what} needs Stable Diffusion WebUI with a loaded model. Install Model Workbench as a WebUI "
    "extension (Extensions → Install from URL) to use it."
)
# What MSG_NEEDS_WEBUI is about (translated like the sentence it fills).
MSG_WHAT_PREVIEWS = "Generating preview images"
MSG_WHAT_TRAINING = "Training a LoRA"
MSG_WHAT_TAGGING = "Tagging images"
MSG_WHAT_TAGGING_WITH = "Tagging images with {method}"
MSG_WHAT_SWITCHING = "Switching the checkpoint"
MSG_WHAT_EMBEDDING = "Training an embedding"
MSG_WHAT_HYPERNETWORK = "Training a hypernetwork"


class BaseHost:
    """Defaults for the :class:`~model_workbench.host.Host` protocol."""

    def __init__(self) -> None:
        self._gpu_lock = threading.Lock()
        self.current_job: str | None = None
        self.last_progress: ProgressUpdate | None = None
        self._interrupted = False

    # -- to be provided by subclasses -------------------------------------------------------
    def capabilities(self) -> HostCapabilities:
        raise NotImplementedError

    def settings(self) -> WorkbenchSettings:
        raise NotImplementedError

    def default_model_folders(self) -> dict[ModelKind, list[Path]]:
        raise NotImplementedError

    def data_dir(self) -> Path:
        raise NotImplementedError

    # -- shared behaviour --------------------------------------------------------------------
    def model_folders(self) -> dict[ModelKind, list[Path]]:
        """The host's folders with the user's overrides put first (they become install targets)."""
        folders = {kind: list(paths) for kind, paths in self.default_model_folders().items()}
        for kind_value, folder in self.settings().folder_overrides.items():
            try:
                kind = ModelKind(kind_value)
            except ValueError:
                continue
            override = Path(folder).expanduser()
            rest = [p for p in folders.get(kind, []) if p != override]
            folders[kind] = [override, *rest]
        return folders

    def refresh_models(self, kind: ModelKind) -> None:
        """Nothing to refresh by default: the standalone app lists folders afresh each time."""

    def cached_sha256(self, kind: ModelKind, path: Path) -> str | None:
        return None

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        stop: StopFlag | None = None,
    ) -> GenerationResult:
        raise HostFeatureUnavailable(MSG_NEEDS_WEBUI.format(what=MSG_WHAT_PREVIEWS))

    def interrupt(self) -> None:
        self._interrupted = True

    def interrupted(self) -> bool:
        return self._interrupted

    def report_progress(self, update: ProgressUpdate) -> None:
        self.last_progress = update

    def trainable_model(self) -> Any:
        raise HostFeatureUnavailable(MSG_NEEDS_WEBUI.format(what=MSG_WHAT_TRAINING))

    def training_refusal(self) -> str | None:
        """Why a training cannot start here, or None; asked before one starts (WebUI's host also looks
        at the loaded model)."""
        return None if self.capabilities().can_train else MSG_NEEDS_WEBUI.format(what=MSG_WHAT_TRAINING)

    def tagging_refusal(self) -> str | None:
        """Why images cannot be tagged here, or None."""
        return None if self.capabilities().can_tag else MSG_NEEDS_WEBUI.format(what=MSG_WHAT_TAGGING)

    def tag_image(self, image: Any, method: str, threshold: float = 0.5) -> list[str]:
        raise HostFeatureUnavailable(MSG_NEEDS_WEBUI.format(what=MSG_WHAT_TAGGING_WITH.format(method=method)))

    def checkpoints(self) -> list[BaseCheckpoint]:
        """No checkpoint list by default (the standalone app loads no model)."""
        return []

    def loaded_checkpoint(self) -> BaseCheckpoint | None:
        return None

    def load_checkpoint(self, checkpoint: BaseCheckpoint) -> BaseCheckpoint:
        raise HostFeatureUnavailable(MSG_NEEDS_WEBUI.format(what=MSG_WHAT_SWITCHING))

    # -- embeddings and hypernetworks, trained by WebUI's own trainer (training/webui_kinds.py) ---------
    def webui_trainer_support(self) -> list[WebuiTrainerSupport]:
        """Per kind, whether WebUI's trainer can train it here and its files be previewed (None) or why not."""
        previews = MSG_NEEDS_WEBUI.format(what=MSG_WHAT_PREVIEWS)
        return [WebuiTrainerSupport(VersionKind.EMBEDDING, MSG_NEEDS_WEBUI.format(what=MSG_WHAT_EMBEDDING), previews),
                WebuiTrainerSupport(VersionKind.HYPERNETWORK, MSG_NEEDS_WEBUI.format(what=MSG_WHAT_HYPERNETWORK),
                                    previews)]

    def prompt_templates(self) -> list[str]:
        """The file names of WebUI's textual inversion prompt templates (``subject_filewords.txt`` …)."""
        return []

    def prompt_template_text(self, name: str) -> str | None:
        """The text of the prompt template ``name``; None: no templates by default."""
        return None

    def train_webui_network(self, request: WebuiTrainRequest, progress: ProgressCallback | None = None,
                            stop: StopFlag | None = None) -> list[StepSnapshot]:
        """Create and train an embedding or hypernetwork with WebUI's own trainer (inside :meth:`gpu_lock`);
        returns every step snapshot it saved, the last step included, oldest first."""
        what = MSG_WHAT_EMBEDDING if request.kind is VersionKind.EMBEDDING else MSG_WHAT_HYPERNETWORK
        raise HostFeatureUnavailable(MSG_NEEDS_WEBUI.format(what=what))

    def webui_training_log_dir(self) -> Path | None:
        """Where WebUI's own Train tab writes its runs (``textual_inversion/<date>/<name>/…``), or None."""
        return None

    @contextmanager
    def gpu_lock(self, job: str) -> Iterator[None]:
        with self._gpu_lock:
            self.current_job = job
            self._interrupted = False
            try:
                yield
            finally:
                self.current_job = None

