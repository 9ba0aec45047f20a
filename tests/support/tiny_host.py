"""The test suite's tiny torch host: trains and samples ``TinyDiffusionModel`` on the CPU.

A ``StandaloneHost`` (model folders from flags, settings file) that can also train, generate and
tag, so every part of the Train tab runs end to end without WebUI:

- ``trainable_model()`` yields the host's one tiny model and puts its weights back on exit;
- ``generate()`` samples it with each LoRA of the request merged at its weight (``applied_lora``,
  the way WebUI's Lora extension merges them), and writes WebUI-style infotexts;
- ``train_webui_network()`` trains an embedding or hypernetwork with ``tiny_webui_trainer`` (WebUI's formats
  and log layout), and ``generate()`` applies ``ExtraNetwork`` kinds "embedding" (the word reads the file's
  vectors) and "hypernet" (the file's MLPs on the cross-attention context at the strength);
- ``tag_image()`` names the image's dominant colours (deterministic "deepbooru"), or a sentence ("blip");
- given ``checkpoints`` (file names), it lists that many tiny checkpoints, each a model of its own seed
  (the first is the one loaded at start), and ``load_checkpoint()`` swaps their weights in, hashing a
  checkpoint when it loads as WebUI does. Without them it lists none, as the standalone app.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from model_workbench.host import (
    BaseCheckpoint,
    GenerationRequest,
    GenerationResult,
    HostCapabilities,
    ModelKind,
    ProgressCallback,
    ProgressUpdate,
    StopFlag,
)
from model_workbench.preview.requests import CellRequest, LoraRef, format_infotext
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from model_workbench.training.apply import applied_lora
from model_workbench.training.webui_kinds import (
    StepSnapshot,
    VersionKind,
    WebuiTrainerSupport,
    WebuiTrainRequest,
)
from tests.support.tiny_diffusion import TinyDiffusionModel, single_thread
from tests.support.tiny_webui_trainer import (
    TEMPLATES,
    embeddings_applied,
    hypernetworks_applied,
    load_embedding,
    load_hypernetwork,
    train,
)

COLOUR_NAMES = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 230), "yellow": (240, 220, 40),
    "magenta": (200, 40, 200), "cyan": (40, 200, 200), "white": (250, 250, 250), "black": (10, 10, 10),
    "grey": (128, 128, 128), "orange": (240, 140, 30),
}


def colour_tags(image: Image.Image, limit: int = 3) -> list[tuple[str, float]]:
    """The image's nearest named colours with the share of pixels each covers."""
    array = np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.float32).reshape(-1, 3)
    names = list(COLOUR_NAMES)
    palette = np.array([COLOUR_NAMES[n] for n in names], dtype=np.float32)
    nearest = ((array[:, None, :] - palette[None]) ** 2).sum(-1).argmin(1)
    counts = np.bincount(nearest, minlength=len(names)) / len(nearest)
    order = np.argsort(-counts)[:limit]
    return [(names[i], float(counts[i])) for i in order if counts[i] > 0]


class TinyHost(StandaloneHost):
    """Trains, samples and tags a tiny random diffusion model on the CPU."""

    def __init__(self, config: StandaloneConfig, seed: int = 0, step_delay: float = 0.0,
                 checkpoints: Sequence[str] = ()) -> None:
        super().__init__(config)
        self.model = TinyDiffusionModel(seed=seed)
        self.refreshed: list[ModelKind] = []
        self.generated: list[GenerationRequest] = []
        self.loads: list[str] = []  # names of the checkpoints load_checkpoint() loaded, in order
        self.step_delay = step_delay  # lets tests stop a training in the middle
        self._model_lock = threading.Lock()
        folder = config.models_dir / "Stable-diffusion"
        # name → (its weights, its sha256 once "loaded", as WebUI hashes a checkpoint when it loads it)
        self._checkpoints: dict[str, tuple[dict[str, torch.Tensor], str]] = {}
        for i, name in enumerate(checkpoints):
            model = self.model if i == 0 else TinyDiffusionModel(seed=seed + i)
            state = {k: v.clone() for k, v in model.root.state_dict().items()}
            digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values())).hexdigest()
            self._checkpoints[name] = (state, digest)
        self._paths = {name: str(folder / name) for name in self._checkpoints}
        self._hashed: set[str] = set(list(self._checkpoints)[:1])
        self._loaded: str | None = next(iter(self._checkpoints), None)

    # -- embeddings and hypernetworks: tiny_webui_trainer stands in for WebUI's trainers ---------------
    def webui_trainer_support(self) -> list[WebuiTrainerSupport]:
        return [WebuiTrainerSupport(VersionKind.EMBEDDING), WebuiTrainerSupport(VersionKind.HYPERNETWORK)]

    def prompt_templates(self) -> list[str]:
        return sorted(TEMPLATES)

    def prompt_template_text(self, name: str) -> str | None:
        return TEMPLATES.get(name)

    def webui_training_log_dir(self) -> Path | None:
        return self.config.models_dir.parent / "textual_inversion"

    def train_webui_network(self, request: WebuiTrainRequest, progress: ProgressCallback | None = None,
                            stop: StopFlag | None = None) -> list[StepSnapshot]:
        def report(update: ProgressUpdate) -> None:
            if progress is not None:
                progress(update)
            if self.step_delay:
                time.sleep(self.step_delay)

        saved = {k: v.clone() for k, v in self.model.root.state_dict().items()}
        try:
            with self._model_lock:
                return train(self.model, request, TEMPLATES.get(request.fields.training.template_file, "[name]"),
                             self._loaded or "tiny", report,
                             lambda: bool(stop is not None and stop.is_set()) or self.interrupted())
        finally:
            self.model.root.load_state_dict(saved)  # the loaded model is unchanged, as WebUI's trainers leave it

    def capabilities(self) -> HostCapabilities:
        return HostCapabilities(name="Tiny test host", flavor="test", can_generate=True, can_train=True,
                                can_tag=True, can_refresh_models=True)

    def refresh_models(self, kind: ModelKind) -> None:
        self.refreshed.append(kind)

    def report_progress(self, update: ProgressUpdate) -> None:
        super().report_progress(update)
        if self.step_delay:
            time.sleep(self.step_delay)

    @contextlib.contextmanager
    def trainable_model(self) -> Iterator[TinyDiffusionModel]:
        saved = {k: v.clone() for k, v in self.model.root.state_dict().items()}
        try:
            with single_thread():  # entered in the training thread: the tiny model is fastest on one
                yield self.model
        finally:
            self.model.root.load_state_dict(saved)

    def generate(self, request: GenerationRequest, progress: ProgressCallback | None = None,
                 stop: StopFlag | None = None) -> GenerationResult:
        if stop is not None and stop.is_set():
            raise InterruptedError("Stopped before the image was generated.")
        started = time.perf_counter()
        self.generated.append(request)
        images, infotexts = [], []
        with self._model_lock, contextlib.ExitStack() as stack:
            vectors, hypernets = {}, []
            for extra in request.extra_networks:
                if extra.path is None:
                    continue
                if extra.kind == "embedding":  # the word means the file for this generation only
                    vectors[extra.name.lower()] = load_embedding(extra.path)
                elif extra.kind == "hypernet":
                    hypernets.append((load_hypernetwork(extra.path)[0], extra.weight))
                else:
                    stack.enter_context(applied_lora(self.model.root, self.model.family, str(extra.path), extra.weight))
            stack.enter_context(embeddings_applied(self.model, vectors))
            stack.enter_context(hypernetworks_applied(self.model, hypernets))
            for i in range(request.batch_size * request.n_iter):
                seed = request.seed + i
                images.append(self.model.sample(request.prompt, request.negative_prompt, seed, request.steps,
                                                request.cfg_scale, request.width, request.height))
                lora = request.extra_networks[0] if request.extra_networks else None
                cell = CellRequest(prompt=request.prompt, negative_prompt=request.negative_prompt, seed=seed,
                                   steps=request.steps, sampler_name=request.sampler_name,
                                   cfg_scale=request.cfg_scale, width=request.width, height=request.height,
                                   lora=LoraRef(lora.name, lora.weight, str(lora.path), kind=lora.kind) if lora else None)
                infotexts.append(format_infotext(cell))
        if progress is not None:
            progress(ProgressUpdate(1, 1, "done"))
        return GenerationResult(images=images, infotexts=infotexts, seed=request.seed,
                                elapsed_s=time.perf_counter() - started)

    def _ref(self, name: str) -> BaseCheckpoint:
        sha256 = self._checkpoints[name][1] if name in self._hashed else None
        return BaseCheckpoint(title=f"{name} [{sha256[:10]}]" if sha256 else name, name=name,
                              filename=self._paths[name], shorthash=sha256[:10] if sha256 else None, sha256=sha256,
                              legacy_hash=hashlib.sha256(name.encode()).hexdigest()[:8])

    def checkpoints(self) -> list[BaseCheckpoint]:
        return [self._ref(name) for name in self._checkpoints]

    def loaded_checkpoint(self) -> BaseCheckpoint | None:
        return self._ref(self._loaded) if self._loaded else None

    def load_checkpoint(self, checkpoint: BaseCheckpoint) -> BaseCheckpoint:
        name = next((n for n in self._checkpoints if checkpoint.same_as(self._ref(n))), None)
        if name is None:
            return super().load_checkpoint(checkpoint)  # a host without that checkpoint: "needs WebUI"
        with self._model_lock:
            self.model.root.load_state_dict(self._checkpoints[name][0])
            self._loaded = name
            self._hashed.add(name)
            self.loads.append(name)
        return self._ref(name)

    def tag_image(self, image: Any, method: str, threshold: float = 0.5) -> list[str]:
        tags = colour_tags(image)
        if method == "blip":
            return [f"a square picture in {tags[0][0]}" + (f" and {tags[1][0]}" if len(tags) > 1 else "")]
        share = max(0.0, min(1.0, float(threshold))) * 0.5  # threshold 0.5 keeps colours over 25 % of the image
        return [f"{name} background" if i == 0 else name for i, (name, part) in enumerate(tags) if part >= share]


def tiny_host(root: Path, **kwargs: Any) -> TinyHost:
    """A tiny host with its models under ``root/models`` and its data under ``root/data``."""
    (root / "models" / "Lora").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    return TinyHost(StandaloneConfig(models_dir=root / "models", data_dir=root / "data"), **kwargs)


def tiny_host_with_project(root: Path, project: str = "cat", images: int = 4, **kwargs: Any) -> TinyHost:
    """:func:`tiny_host` with a project holding one concept folder of ``images`` tiny images."""
    from model_workbench.training import projects
    from tests.support.tiny_dataset import make_concept_folder

    host = tiny_host(root, **kwargs)
    paths = projects.create_project(host.data_dir(), project)
    make_concept_folder(paths.dataset, n=images, repeats=1, concept="tinycat")
    return host
