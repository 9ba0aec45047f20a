"""The Host boundary: everything the tabs and the core need from a WebUI, in the core's own types.

Three hosts implement :class:`Host`: ``model_workbench.webui`` (A1111 and Forge, feature-detected),
``model_workbench.standalone`` (no WebUI: model folders from flags, no generation) and the test suite's
tiny torch host. The core and the UI talk only to this protocol, so none of them imports WebUI's
``modules`` and each can be tested without a WebUI.

This module is pure: no gradio, no torch, no ``modules``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

MSG_RANDOM_SEED = "A preview needs a fixed seed (0 or more), not a random one."
MSG_STEPS = "Steps must be at least 1."
MSG_SIZE = "Width and height must be multiples of 8."
MSG_BATCH = "Batch size and batch count must be at least 1."

if TYPE_CHECKING:  # pragma: no cover - typing only; keeps torch out of this module's imports
    from PIL.Image import Image

    from model_workbench.training.webui_kinds import StepSnapshot, WebuiTrainerSupport, WebuiTrainRequest


class ModelKind(str, enum.Enum):
    """The kinds of model file WebUI keeps in separate folders."""

    CHECKPOINT = "checkpoint"
    LORA = "lora"
    LYCORIS = "lycoris"
    EMBEDDING = "embedding"
    HYPERNETWORK = "hypernetwork"
    VAE = "vae"
    CONTROLNET = "controlnet"
    UPSCALER = "upscaler"
    OTHER = "other"


class HostFeatureUnavailable(RuntimeError):
    """Raised when a host cannot do something (the standalone app cannot generate images, say).

    The message is shown to the user as it is, so it says what is missing and what to do instead.
    """


@dataclass(frozen=True)
class HostCapabilities:
    """What a host can do; the UI greys out or explains what it cannot."""

    name: str
    flavor: str  # "a1111", "forge", "standalone" or "test"
    can_generate: bool = False
    can_train: bool = False
    can_tag: bool = False
    can_refresh_models: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaseCheckpoint:
    """A checkpoint (base model) as the host lists it: WebUI's ``CheckpointInfo`` in the core's terms.

    ``title`` is what WebUI's checkpoint dropdown shows (``name [shorthash]``), ``name`` the file's path
    inside the checkpoint folder, ``shorthash`` the first 10 hex digits of ``sha256`` (WebUI's short
    hash; either is None until WebUI has hashed the file) and ``legacy_hash`` WebUI's old 8-digit hash.
    """

    title: str
    name: str
    filename: str = ""
    shorthash: str | None = None
    sha256: str | None = None
    legacy_hash: str | None = None

    def same_as(self, other: BaseCheckpoint | None) -> bool:
        """Whether both are the same file: by sha256 (or short hash) where both know it, else by name."""
        if other is None:
            return False
        if self.sha256 and other.sha256:
            return self.sha256.lower() == other.sha256.lower()
        if self.shorthash and other.shorthash:
            return self.shorthash.lower() == other.shorthash.lower()
        return self.name == other.name


@dataclass(frozen=True)
class ExtraNetwork:
    """One extra network applied to a generation, written into the prompt as ``<lora:name:weight>``.

    ``path`` is the file behind ``name``; a host uses it to make a file loadable that WebUI has not
    listed (a freshly trained epoch) without copying it into ``models/Lora``.

    ``kind`` is "lora" (``<lora:name:weight>``), "hypernet" (``<hypernet:name:weight>``) or "embedding":
    an embedding is no prompt tag but a word; with a ``path``, the host makes ``name`` in the prompt mean
    that file for this generation only (registered under a temporary name, removed afterwards) and
    ``weight`` is unused.
    """

    name: str
    weight: float = 1.0
    kind: str = "lora"
    path: Path | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One txt2img generation with an explicit seed, as a preview cell asks for it."""

    prompt: str
    negative_prompt: str = ""
    seed: int = 1
    steps: int = 20
    sampler_name: str = "Euler a"
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    batch_size: int = 1
    n_iter: int = 1
    clip_skip: int | None = None
    extra_networks: tuple[ExtraNetwork, ...] = ()

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(MSG_RANDOM_SEED)
        if self.steps < 1:
            raise ValueError(MSG_STEPS)
        if self.width < 8 or self.height < 8 or self.width % 8 or self.height % 8:
            raise ValueError(MSG_SIZE)
        if self.batch_size < 1 or self.n_iter < 1:
            raise ValueError(MSG_BATCH)


@dataclass
class GenerationResult:
    """Images of one request with the infotext WebUI would write for each."""

    images: list[Image]
    infotexts: list[str]
    seed: int
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class ProgressUpdate:
    """A progress report of long work: ``done`` of ``total`` units, with a line of text."""

    done: float
    total: float
    text: str = ""

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else max(0.0, min(1.0, self.done / self.total))


ProgressCallback = Callable[[ProgressUpdate], None]


class StopFlag:
    """A thread-safe "please stop" flag that long work checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def __bool__(self) -> bool:  # so ``if stop:`` reads naturally
        return self._event.is_set()


@dataclass
class WorkbenchSettings:
    """User settings, stored by WebUI in its config.json or by the standalone app in its own file.

    ``folder_overrides`` maps a :class:`ModelKind` value to a folder that replaces the host's default
    install folder for that kind.
    """

    civitai_api_key: str = ""
    civitai_base_url: str = ""
    proxy: str = ""
    nsfw_level: str = "PG-13"
    folder_overrides: dict[str, str] = field(default_factory=dict)
    use_subfolders: bool = False
    updates_skip_early_access: bool = True  # "update available" ignores Early Access and paid versions
    hf_endpoint: str = ""  # the Hub or a mirror ("" = https://huggingface.co)
    hf_token: str = ""  # sent only to hf_endpoint, never to the storage a download redirects to

    def __repr__(self) -> str:  # never show the key or the token, not even in a traceback
        key = "<set>" if self.civitai_api_key else "<unset>"
        return (
            f"WorkbenchSettings(civitai_api_key={key}, civitai_base_url={self.civitai_base_url!r}, "
            f"proxy={'<set>' if self.proxy else '<unset>'}, nsfw_level={self.nsfw_level!r}, "
            f"folder_overrides={self.folder_overrides!r}, use_subfolders={self.use_subfolders!r}, "
            f"hf_endpoint={self.hf_endpoint!r}, hf_token={'<set>' if self.hf_token else '<unset>'})"
        )


@runtime_checkable
class Host(Protocol):
    """What Model Workbench needs from the program it runs in."""

    def capabilities(self) -> HostCapabilities:
        """Name, flavour and what this host can do."""
        ...

    def settings(self) -> WorkbenchSettings:
        """The current user settings (read on every call: the user may change them at any time)."""
        ...

    def model_folders(self) -> dict[ModelKind, list[Path]]:
        """Folders scanned per kind; the first folder of a kind is where new files are installed."""
        ...

    def data_dir(self) -> Path:
        """Where Model Workbench keeps its own data (caches, projects, grids)."""
        ...

    def refresh_models(self, kind: ModelKind) -> None:
        """Make the host list files that just landed in a folder of ``kind`` (no restart)."""
        ...

    def cached_sha256(self, kind: ModelKind, path: Path) -> str | None:
        """The host's cached SHA256 of a model file if it has a fresh one, else None."""
        ...

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        stop: StopFlag | None = None,
    ) -> GenerationResult:
        """Generate images for one request; raises HostFeatureUnavailable if the host cannot."""
        ...

    def interrupt(self) -> None:
        """Ask the generation or training in progress to stop at the next step."""
        ...

    def interrupted(self) -> bool:
        """Whether the host's own Interrupt was pressed during the current job."""
        ...

    def report_progress(self, update: ProgressUpdate) -> None:
        """Show the progress of the current job (inside :meth:`gpu_lock`) in the host's own progress bar."""
        ...

    def trainable_model(self) -> AbstractContextManager[Any]:
        """The loaded checkpoint as a ``model_workbench.training`` TrainableModel, as a context manager.

        Entered inside :meth:`gpu_lock`. On entry the host clears anything applied to the model (merged
        LoRA weights); on exit — training finished, interrupted or failed — the host's model is exactly as
        it was before (same weights, same flags), which the host checks. Raises HostFeatureUnavailable
        where training cannot run (no WebUI, Forge, --lowvram...), with the reason as its message.
        """
        ...

    def training_refusal(self) -> str | None:
        """Why a LoRA training cannot start here now (a sentence), or None; asked before one starts."""
        ...

    def tagging_refusal(self) -> str | None:
        """Why images cannot be tagged here (a sentence), or None."""
        ...

    def tag_image(self, image: Image, method: str, threshold: float = 0.5) -> list[str]:
        """Tags for an image by ``method`` ("deepbooru" or "blip")."""
        ...

    def checkpoints(self) -> list[BaseCheckpoint]:
        """The checkpoints the host can load (WebUI's checkpoint list); empty where it has none."""
        ...

    def loaded_checkpoint(self) -> BaseCheckpoint | None:
        """The checkpoint a generation or training uses now (Forge: the one it will load), or None."""
        ...

    def load_checkpoint(self, checkpoint: BaseCheckpoint) -> BaseCheckpoint:
        """Load ``checkpoint`` with the host's own loader (call inside :meth:`gpu_lock`); returns it as
        loaded (with its hash). Raises HostFeatureUnavailable where the host cannot switch, ValueError
        where it does not list that checkpoint."""
        ...

    def gpu_lock(self, job: str) -> AbstractContextManager[None]:
        """A context that holds the host's GPU lock for ``job`` and reports it as the current job."""
        ...

    def webui_trainer_support(self) -> list[WebuiTrainerSupport]:
        """Per kind (embedding, hypernetwork): can WebUI's own trainer train it here, can its files be
        previewed, and if not, why (Forge removed the trainers)."""
        ...

    def prompt_templates(self) -> list[str]:
        """The file names of WebUI's textual inversion prompt templates; empty where there are none."""
        ...

    def prompt_template_text(self, name: str) -> str | None:
        """The text of the prompt template ``name`` (one of :meth:`prompt_templates`), or None where the
        host has no such template (an embedding grid with no prompt typed uses its lines)."""
        ...

    def train_webui_network(self, request: WebuiTrainRequest, progress: ProgressCallback | None = None,
                            stop: StopFlag | None = None) -> list[StepSnapshot]:
        """Create and train an embedding or hypernetwork with WebUI's trainer (inside :meth:`gpu_lock`)
        and return the step snapshots it saved, oldest first. The loaded model is unchanged afterwards."""
        ...

    def webui_training_log_dir(self) -> Path | None:
        """Where WebUI's own Train tab writes its runs, or None where there is no such place."""
        ...


def iter_install_folders(host: Host) -> Iterator[tuple[ModelKind, Path]]:
    """Each kind with the folder new files of that kind are installed into."""
    for kind, folders in host.model_folders().items():
        if folders:
            yield kind, folders[0]
