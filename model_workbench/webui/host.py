"""WebUI as a :class:`~model_workbench.host.Host`: A1111 v1.10 and Forge, feature-detected.

Everything here touches WebUI's ``modules`` through the narrow set of calls documented in
``webui-extension-api.md``; the rest of Model Workbench only sees the Host protocol.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from modules import call_queue, paths, processing, sd_models, shared

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
from model_workbench.host_base import BaseHost
from model_workbench.settings_schema import settings_from_values
from model_workbench.training.webui_kinds import StepSnapshot, WebuiTrainerSupport, WebuiTrainRequest
from model_workbench.webui import checkpoints, messages
from model_workbench.webui.forge_guard import forge_training, forget_applied_loras
from model_workbench.webui.forge_trainable import why_not_trainable_forge
from model_workbench.webui.host_kind import HostKind, detect_host_kind
from model_workbench.webui.lora_check import check_lora as check_lora_file
from model_workbench.webui.lora_check import check_lora_forge
from model_workbench.webui.model_guard import clear_applied_networks, guarded_model
from model_workbench.webui.registered_networks import RegisteredNetworks
from model_workbench.webui.settings import current_values
from model_workbench.webui.tagging import tag_image as tag_with_webui
from model_workbench.webui.trainable import WebuiTrainableModel, why_not_trainable
from model_workbench.webui.webui_snapshots import snapshots_registered
from model_workbench.webui.webui_trainer_support import train_reason, trainer_support
from model_workbench.webui.webui_trainers import WebuiTrainingModules
from model_workbench.webui.webui_trainers import train_webui_network as run_webui_trainer


def _opt_dir(name: str) -> Path | None:
    value = getattr(shared.cmd_opts, name, None)
    return Path(value) if value else None


def _builtin_module(name: str) -> Any | None:
    """A module of a built-in extension (``networks``), importable by bare name once it loaded."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _optional_module(name: str) -> Any | None:
    """A WebUI module that a WebUI variant may lack (Forge stubs some; old versions miss others)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _forget_cached_conditioning() -> None:
    """Drop txt2img's cached prompt conditioning (kept across generations by ``persistent_cond_cache``).

    Its key does not include the text encoder's weights, so a sample rendered during training (text
    encoder LoRA hooked in) would otherwise be reused by the user's next generation of that prompt."""
    for cls, names in ((processing.StableDiffusionProcessing, ("cached_c", "cached_uc")),
                       (processing.StableDiffusionProcessingTxt2Img, ("cached_hr_c", "cached_hr_uc"))):
        for name in names:
            if hasattr(cls, name):
                setattr(cls, name, [None, None])


def _empty_script_runner() -> Any | None:
    """A ScriptRunner with no scripts (None where WebUI has no ``modules.scripts``)."""
    scripts = _optional_module("modules.scripts")
    runner = getattr(scripts, "ScriptRunner", None)
    return runner() if runner is not None else None


def _prompt_templates() -> dict[str, Path]:
    """WebUI's template table, file name → path, listed afresh by its own lister (the Train tab's refresh),
    else read from its templates folder."""
    ti = _optional_module("modules.textual_inversion.textual_inversion")
    lister = getattr(ti, "list_textual_inversion_templates", None)
    if lister is not None:
        return {name: Path(template.path) for name, template in lister().items()}
    folder = _opt_dir("textual_inversion_templates_dir")
    return {p.name: p for p in folder.rglob("*") if p.is_file()} if folder and folder.is_dir() else {}


def _embedding_db() -> Any | None:
    """A1111's embedding database (``sd_hijack.model_hijack.embedding_db``), or None where there is none."""
    hijack = getattr(_optional_module("modules.sd_hijack"), "model_hijack", None)
    return getattr(hijack, "embedding_db", None)


def _loaded_model() -> Any | None:
    """The model as loaded, without A1111's ``shared.sd_model`` property (which would load one)."""
    data = getattr(sd_models, "model_data", None)
    return data.sd_model if data is not None and hasattr(data, "sd_model") else shared.sd_model


def _forge_load_model() -> None:
    """Forge loads the checkpoint lazily (at the first generation): load it now. Without the UI
    (``--nowebui``) nothing has filled the loading parameters yet; Forge's UI does it at start."""
    parameters = getattr(sd_models.model_data, "forge_loading_parameters", None) or {}
    if "checkpoint_info" not in parameters:
        importlib.import_module("modules_forge.main_entry").refresh_model_loading_parameters()
    sd_models.forge_model_reload()


class WebuiHost(BaseHost):
    def __init__(self) -> None:
        super().__init__()
        self.kind: HostKind = detect_host_kind()
        self._registered = RegisteredNetworks()

    def capabilities(self) -> HostCapabilities:
        kind = self.kind
        return HostCapabilities(
            name=kind.name + (f" ({kind.version})" if kind.version else ""),
            flavor="forge" if kind.is_forge else "a1111",
            can_generate=True,
            can_train=kind.train_refusal is None,
            can_tag=True,
            can_refresh_models=True,
            notes=kind.notes(),
        )

    def settings(self) -> WorkbenchSettings:
        values = current_values()
        flag_url = getattr(shared.cmd_opts, "model_workbench_civitai_url", None)
        if flag_url and not values.get("model_workbench_civitai_base_url"):
            values["model_workbench_civitai_base_url"] = flag_url
        return settings_from_values(values)

    def default_model_folders(self) -> dict[ModelKind, list[Path]]:
        models = Path(paths.models_path)
        checkpoint = [Path(sd_models.model_path)]
        if _opt_dir("ckpt_dir"):
            checkpoint.insert(0, _opt_dir("ckpt_dir"))  # type: ignore[arg-type]
        return {
            ModelKind.CHECKPOINT: checkpoint,
            ModelKind.LORA: [_opt_dir("lora_dir") or models / "Lora"],
            ModelKind.LYCORIS: [_opt_dir("lyco_dir_backcompat") or models / "LyCORIS"],
            ModelKind.EMBEDDING: [_opt_dir("embeddings_dir") or Path(paths.data_path) / "embeddings"],
            ModelKind.HYPERNETWORK: [_opt_dir("hypernetwork_dir") or models / "hypernetworks"],
            ModelKind.VAE: [_opt_dir("vae_dir") or models / "VAE"],
            ModelKind.CONTROLNET: [models / "ControlNet"],
            ModelKind.UPSCALER: [models / "ESRGAN"],
            ModelKind.OTHER: [models / "Other"],
        }

    def data_dir(self) -> Path:
        return Path(paths.data_path) / "outputs" / "model-workbench"

    def refresh_models(self, kind: ModelKind) -> None:
        if kind == ModelKind.CHECKPOINT:
            shared.refresh_checkpoints()
        elif kind in (ModelKind.LORA, ModelKind.LYCORIS):
            networks = _builtin_module("networks")
            if networks is not None:
                networks.list_available_networks()
        elif kind == ModelKind.EMBEDDING:
            hijack = getattr(importlib.import_module("modules.sd_hijack"), "model_hijack", None)
            db = getattr(hijack, "embedding_db", None)
            if db is not None:
                db.load_textual_inversion_embeddings(force_reload=True)
        elif kind == ModelKind.HYPERNETWORK:
            reload = getattr(shared, "reload_hypernetworks", None)
            if reload is not None:
                reload()
        elif kind == ModelKind.VAE:
            importlib.import_module("modules.sd_vae").refresh_vae_list()

    def cached_sha256(self, kind: ModelKind, path: Path) -> str | None:
        hashes = importlib.import_module("modules.hashes")
        title = self._cache_title(kind, path)
        return hashes.sha256_from_cache(str(path), title) if title else None

    def _cache_title(self, kind: ModelKind, path: Path) -> str | None:
        """The key WebUI files a model's hash under in its cache."""
        if kind == ModelKind.CHECKPOINT:
            for folder in self.default_model_folders()[kind]:
                try:
                    return "checkpoint/" + path.relative_to(folder).as_posix()
                except ValueError:
                    continue
            return "checkpoint/" + path.name
        prefixes = {ModelKind.LORA: "lora", ModelKind.LYCORIS: "lora", ModelKind.EMBEDDING: "textual_inversion",
                    ModelKind.HYPERNETWORK: "hypernet"}
        return f"{prefixes[kind]}/{path.stem}" if kind in prefixes else None

    # -- generation ---------------------------------------------------------------------------
    def _register_extra_networks(self, request: GenerationRequest) -> None:
        """Make files outside WebUI's LoRA list loadable under their unique names, with no rescan
        (until the job ends: :meth:`gpu_lock` takes them out of the list again)."""
        networks, network = _builtin_module("networks"), _builtin_module("network")
        if networks is None or network is None:
            return
        for extra in request.extra_networks:
            if extra.kind == "lora" and extra.path is not None:
                self._registered.add(networks, network, extra.name, extra.path)

    def build_processing(self, request: GenerationRequest) -> Any:
        """The txt2img processing object for one request: explicit seed, no scripts, nothing saved."""
        prompt = request.prompt + "".join(f" <{x.kind}:{x.name}:{x.weight:g}>" for x in request.extra_networks)
        override: dict[str, Any] = {}
        if request.clip_skip:
            override["CLIP_stop_at_last_layers"] = request.clip_skip
        p = processing.StableDiffusionProcessingTxt2Img(
            sd_model=shared.sd_model,
            outpath_samples=getattr(shared.opts, "outdir_txt2img_samples", ""),
            outpath_grids=getattr(shared.opts, "outdir_txt2img_grids", ""),
            prompt=prompt,
            negative_prompt=request.negative_prompt,
            seed=request.seed,
            sampler_name=request.sampler_name,
            steps=request.steps,
            cfg_scale=request.cfg_scale,
            width=request.width,
            height=request.height,
            batch_size=request.batch_size,
            n_iter=request.n_iter,
            do_not_save_samples=True,
            do_not_save_grid=True,
            override_settings=override,
            override_settings_restore_afterwards=True,
        )
        # No AlwaysOn scripts (ControlNet, ADetailer...): the cell stays deterministic. An empty runner
        # rather than None: reForge's process_images reads p.scripts.alwayson_scripts unguarded.
        p.scripts = _empty_script_runner()
        p.script_args = []
        return p

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        stop: StopFlag | None = None,
    ) -> GenerationResult:
        """Render one request through WebUI's txt2img. Call it inside :meth:`gpu_lock`."""
        if shared.sd_model is None:
            raise HostFeatureUnavailable(messages.NO_MODEL_FOR_PREVIEW)
        if stop is not None and stop.is_set():
            raise InterruptedError(messages.STOPPED_BEFORE_IMAGE)
        started = time.perf_counter()
        if self.kind.engine == "forge":
            _forge_load_model()  # what Forge's UI would have prepared (absent under --nowebui)
        self._register_extra_networks(request)
        with snapshots_registered(request, shared, _optional_module("modules.textual_inversion.textual_inversion"),
                                  _embedding_db()) as (request, registered):
            p = self.build_processing(request)
            if registered.any_embedding:
                p.do_not_reload_embeddings = True  # a reload from the folders would drop the registered steps
            with closing(p):
                processed = processing.process_images(p)
        start = getattr(processed, "index_of_first_image", 0)
        images = list(processed.images[start:])
        infotexts = list(getattr(processed, "infotexts", [])[start:]) or [processed.info] * len(images)
        if progress is not None:
            progress(ProgressUpdate(1, 1, "done"))
        return GenerationResult(images=images, infotexts=infotexts, seed=request.seed,
                                elapsed_s=time.perf_counter() - started)

    def interrupt(self) -> None:
        shared.state.interrupt()

    def interrupted(self) -> bool:
        return bool(shared.state.interrupted)

    def report_progress(self, update: ProgressUpdate) -> None:
        """WebUI's progress bar reads job_no/job_count; keep job_count > 0 or it shows nothing."""
        state = shared.state
        state.job_count = max(1, int(update.total))
        state.job_no = int(update.done)
        state.textinfo = update.text

    # -- training ---------------------------------------------------------------------------------
    def training_refusal(self) -> str | None:
        """Why the loaded model cannot be trained here, or None (also used to grey out the tab)."""
        if self.kind.train_refusal:
            return self.kind.train_refusal
        if self.kind.engine == "forge":
            engine = shared.sd_model
            if getattr(engine, "forge_objects_original", None) is None:
                return None  # Forge loads the checkpoint lazily: trainable_model() loads it first
            return why_not_trainable_forge(engine)
        devices = _optional_module("modules.devices")
        sd_unet = _optional_module("modules.sd_unet")
        unet = getattr(sd_unet, "current_unet", None)
        unet_name = None
        if unet is not None:  # the option (SdUnetOption) carries the label the user picked
            unet_name = getattr(getattr(sd_unet, "current_unet_option", None), "label", None) or type(unet).__name__
        return why_not_trainable(
            shared.sd_model, shared.cmd_opts, fp8=bool(getattr(devices, "fp8", False)),
            lowvram=_optional_module("modules.lowvram"), alternative_unet=unet_name,
        )

    @contextmanager
    def trainable_model(self) -> Iterator[WebuiTrainableModel]:
        """The loaded checkpoint as a TrainableModel (enter inside :meth:`gpu_lock`).

        Merged LoRA weights are restored first; on exit — finished, interrupted or failed — flags,
        the clip-skip option and hypernetworks are put back and the weights are checked against a
        fingerprint taken before (see ``model_guard.py``)."""
        if self.kind.engine == "forge":
            with self._forge_trainable_model() as model:
                yield model
            return
        reason = self.training_refusal()
        if reason:
            raise HostFeatureUnavailable(reason)
        devices = importlib.import_module("modules.devices")

        def reload() -> None:
            model = shared.sd_model
            sd_models.reload_model_weights(model, info=getattr(model, "sd_checkpoint_info", None), forced_reload=True)

        try:
            with guarded_model(lambda: shared.sd_model, _builtin_module("networks"),
                               getattr(shared, "loaded_hypernetworks", None), shared.opts, reload=reload):
                yield WebuiTrainableModel(shared.sd_model, shared.opts, devices)
        finally:
            _forget_cached_conditioning()

    @contextmanager
    def _forge_trainable_model(self) -> Iterator[Any]:
        """Forge: load the checkpoint if Forge has not yet (it loads lazily), then train its modules
        in place under ``forge_guard``'s checks."""
        if self.kind.train_refusal:
            raise HostFeatureUnavailable(self.kind.train_refusal)
        _forge_load_model()
        reason = why_not_trainable_forge(shared.sd_model)
        if reason:
            raise HostFeatureUnavailable(reason)
        memory_management = importlib.import_module("backend.memory_management")

        def reload() -> None:
            sd_models.model_data.forge_hash = ""  # forces forge_model_reload to read the file again
            sd_models.forge_model_reload()

        try:
            with forge_training(lambda: shared.sd_model, memory_management, _builtin_module("networks"),
                                reload=reload) as model:
                yield model
        finally:
            _forget_cached_conditioning()

    def _forge_fresh_loras(self) -> None:
        """Forge caches LoRA files by path and skips re-patching for the same names: a retrained epoch
        with an old name would render stale weights. Forget both once per job (cells reuse within it)."""
        engine = shared.sd_model
        if self.kind.engine == "forge" and getattr(engine, "forge_objects_original", None) is not None:
            forget_applied_loras(engine, _builtin_module("networks"))

    def _unmerge_loras(self) -> None:
        """Put back the weights a rendered LoRA merged into the loaded model, so no LoRA stays in it after
        our job. A1111 and Forge both undo a merge only at the next generation; A1111 also keeps a CPU
        backup of every layer a LoRA touched (GBs for SDXL), which this frees."""
        if self.kind.engine == "ldm":
            model = _loaded_model()
            networks = _builtin_module("networks")
            if model is not None and networks is not None:
                clear_applied_networks(model, networks)
            return
        engine = shared.sd_model
        if self.kind.engine != "forge" or getattr(engine, "forge_objects_original", None) is None:
            return
        memory_management = importlib.import_module("backend.memory_management")
        objects = engine.forge_objects_original
        memory_management.load_models_gpu([objects.unet, objects.clip.patcher])
        forget_applied_loras(engine, _builtin_module("networks"))
        memory_management.soft_empty_cache()

    # -- embeddings and hypernetworks by WebUI's own trainers ----------------------------------------------
    def webui_trainer_support(self) -> list[WebuiTrainerSupport]:
        return trainer_support(self.kind, _loaded_model(), shared.cmd_opts)

    def prompt_templates(self) -> list[str]:
        """WebUI's textual inversion templates (``--textual-inversion-templates-dir``), by file name."""
        return sorted(_prompt_templates())

    def prompt_template_text(self, name: str) -> str | None:
        """The text of WebUI's template ``name`` (an embedding grid's prompts are its lines), or None."""
        path = _prompt_templates().get(name)
        return path.read_text(encoding="utf-8", errors="replace") if path is not None and path.is_file() else None

    def webui_training_log_dir(self) -> Path | None:
        """The Train tab's "Log directory" default, "textual_inversion", resolved as WebUI resolves it:
        against the folder WebUI runs in."""
        return Path("textual_inversion").resolve()

    def train_webui_network(self, request: WebuiTrainRequest, progress: ProgressCallback | None = None,
                            stop: StopFlag | None = None) -> list[StepSnapshot]:
        """WebUI's create_* and train_* on the version's dataset (inside :meth:`gpu_lock`); the model,
        the embedding database and the hypernetwork list are as before afterwards."""
        reason = train_reason(self.kind, shared.sd_model, shared.cmd_opts)
        if reason:
            raise HostFeatureUnavailable(reason)
        if shared.sd_model is None:
            raise HostFeatureUnavailable(messages.NO_MODEL)

        def reload() -> None:
            model = shared.sd_model
            sd_models.reload_model_weights(model, info=getattr(model, "sd_checkpoint_info", None), forced_reload=True)

        def guard() -> Any:
            return guarded_model(lambda: shared.sd_model, _builtin_module("networks"),
                                 getattr(shared, "loaded_hypernetworks", None), shared.opts, reload=reload)

        modules = WebuiTrainingModules(
            shared=shared,
            textual_inversion=importlib.import_module("modules.textual_inversion.textual_inversion"),
            hypernetwork=importlib.import_module("modules.hypernetworks.hypernetwork"),
            sd_hijack=importlib.import_module("modules.sd_hijack"),
            devices=importlib.import_module("modules.devices"),
            guard=guard,
        )
        return run_webui_trainer(modules, request, progress, stop)

    # -- base model (WebUI's checkpoint list and loader) ------------------------------------------------
    def checkpoints(self) -> list[BaseCheckpoint]:
        return checkpoints.listed(sd_models)

    def loaded_checkpoint(self) -> BaseCheckpoint | None:
        if self.kind.engine == "forge":
            return checkpoints.loaded_forge(sd_models)
        return checkpoints.loaded_a1111(sd_models)

    def load_checkpoint(self, checkpoint: BaseCheckpoint) -> BaseCheckpoint:
        """Load ``checkpoint`` with WebUI's own loader, as its checkpoint dropdown does (inside
        :meth:`gpu_lock`); returns it as loaded, with the hash WebUI computed while loading."""
        info = checkpoints.find_info(sd_models, checkpoint)
        if self.kind.engine == "forge":
            checkpoints.select_forge(importlib.import_module("modules_forge.main_entry"), info)
            _forge_load_model()
        else:
            checkpoints.load_a1111(sd_models, shared, info)
        return self.loaded_checkpoint() or checkpoints.checkpoint_ref(info)

    def tag_image(self, image: Any, method: str, threshold: float = 0.5) -> list[str]:
        """Tags from WebUI's DeepBooru or BLIP; the running job's progress is left as it was."""
        found = {name: _optional_module(f"modules.{name}") for name in ("deepbooru", "images", "devices")}
        return tag_with_webui(shared, found, image, method, threshold)

    def lora_check(self, path: Path) -> dict[str, Any]:
        """Load a LoRA file with WebUI's Lora code against the loaded model; report matched keys."""
        if self.kind.engine == "forge":
            with call_queue.queue_lock:
                _forge_load_model()
            return check_lora_forge(Path(path), shared.sd_model, importlib.import_module("backend.patcher.lora"),
                                    importlib.import_module("backend.utils").load_torch_file)
        if self.kind.engine == "ldm_patched":
            return check_lora_forge(Path(path), shared.sd_model, importlib.import_module("ldm_patched.modules.lora"),
                                    importlib.import_module("ldm_patched.modules.utils").load_torch_file)
        return check_lora_file(Path(path), _builtin_module("networks"), _builtin_module("network"), sd_models,
                          shared.sd_model)

    @contextmanager
    def gpu_lock(self, job: str) -> Iterator[None]:
        """WebUI's queue lock (one GPU job at a time) with the job shown in WebUI's progress state. However
        the job ends, the LoRAs it merged are taken out of the model and the files it registered out of
        WebUI's Lora list."""
        with call_queue.queue_lock:
            shared.state.begin(job=job)
            try:
                self._forge_fresh_loras()
                yield
            finally:
                try:
                    self._unmerge_loras()
                finally:
                    try:
                        self._registered.forget(_builtin_module("networks"))
                    finally:
                        shared.state.end()
