"""One LoRA training at a time, in a background thread, over a Host.

The Train tab and the HTTP API share one :class:`TrainingService` per host (:func:`service_for`), so
a training started from either is seen, followed and stopped from both. The service:

- reads the version's ``config.json`` (kohya argument names) into :class:`TrainingConfig`, applies
  overrides, and points data and output at the project (``dataset/``, ``checkpoints/``,
  ``<project>_<version>-<epoch:06d>.safetensors``), writing the effective config back so the version
  records what was trained and a resume uses the same settings;
- trains under ``host.gpu_lock`` on ``host.trainable_model()``, which the host restores on exit;
- reports progress to the host's progress bar and keeps a status snapshot, a log and the loss
  history in memory (the log also goes to the project's ``train.log``);
- stops at the next step when asked (its own flag or the host's Interrupt) and keeps the finished
  epochs and the resume state;
- renders sample images every N epochs through ``host.generate`` while the LoRA is applied;
- when the version's config asks for it (``preview_after_training``, see :mod:`.after_preview`), renders
  the preview grid of the run's checkpoints before it reports the run ended (stopped with at least one
  checkpoint too); ``status["preview"]`` follows that grid.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api_body import check_field
from ..host import BaseCheckpoint, GenerationRequest, Host, HostFeatureUnavailable, ProgressUpdate, StopFlag
from ..jsonfile import write_json_atomic
from ..per_host import PerHost
from . import after_preview, base_checkpoint, projects, webui_fields, webui_session, webui_versions
from .config import TrainingConfig
from .dataset import TrainingDataset, scan_dataset
from .trainer import Progress, SampleRequest, Trainer
from .webui_kinds import VersionKind, WebuiTrainRequest

TRAIN_JOB = "model-workbench-train"
IDLE, RUNNING, FINISHED, INTERRUPTED, FAILED = "idle", "running", "finished", "interrupted", "failed"
LOG_LIMIT = 2000  # lines kept in memory; train.log keeps everything
LOSS_LIMIT = 5000  # points kept for the plot (thinned when exceeded)
LAST_RUN = "last_run.json"  # in the version's folder: its last run's status, shown after a restart

# Keys the service owns: a user's override of them would write outside the project.
_PROJECT_KEYS = ("train_data_dir", "output_dir", "output_name")

MSG_BUSY = "A training is already running ({project} / {version}); stop it or wait for it to finish."
MSG_BUSY_KIND = ("A {kind} training is already running ({project} / {version}); one training of any kind runs at a "
                 "time: stop it or wait for it to finish.")
MSG_NOT_RUNNING = "No training is running."
MSG_UNKNOWN_KEYS = "Unknown training settings: {keys}. Use kohya sd-scripts' argument names."
MSG_NO_RESUME = ("There is no saved state to resume {project} / {version} from; start a new training instead.")
MSG_STARTED = "Training {project} / {version} started: {epochs} epochs on {images} images."
MSG_FINISHED = "Training finished: {count} checkpoints saved in {folder}."
MSG_FAILED = "Training failed: {error}"
MSG_APP_STOPPED = ("The app stopped during this training. The finished epochs are kept: press Resume to "
                   "continue from the last saved state.")
MSG_SAMPLE_FAILED = "Sample images for epoch {epoch} could not be rendered: {error}"


class TrainingBusy(RuntimeError):
    """A training is already running; the message names it."""


@dataclass
class SampleSettings:
    """How sample images are rendered during training (the prompts come from the config)."""

    negative_prompt: str = ""
    steps: int = 20
    sampler_name: str = "Euler a"
    cfg_scale: float = 7.0
    width: int = 0  # 0: the training resolution
    height: int = 0


@dataclass
class TrainingStatus:
    state: str = IDLE
    project: str = ""
    version: str = ""
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    total_epochs: int = 0
    loss: float | None = None
    average_loss: float | None = None
    lr: float | None = None
    it_per_s: float | None = None
    message: str = ""
    checkpoints: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    preview: dict[str, Any] | None = None  # the preview after training (after_preview), None when off
    kind: str = "lora"  # what the run trains: "lora", "embedding" or "hypernetwork" (webui_kinds.VersionKind)

    def as_dict(self) -> dict[str, Any]:
        """The ``GET /train/status`` shape (plus a few extra fields the tab uses)."""
        return {
            "state": self.state, "project": self.project, "version": self.version, "step": self.step,
            "total_steps": self.total_steps, "epoch": self.epoch, "total_epochs": self.total_epochs,
            "loss": self.loss, "average_loss": self.average_loss, "lr": self.lr, "it_per_s": self.it_per_s,
            "message": self.message, "checkpoints": list(self.checkpoints), "samples": list(self.samples),
            "started_at": self.started_at, "finished_at": self.finished_at,
            "preview": dict(self.preview) if self.preview is not None else None, "kind": self.kind,
        }


def build_config(root: str | Path, project: str, version: str, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """The version's stored config plus ``overrides``, aimed at the project's folders; validated.

    Raises ``ValueError`` (unknown keys, invalid values) or ``ProjectError`` with a sentence to show.
    """
    paths = projects.project_paths(root, project)
    stored = projects.read_version_config(root, project, version)
    return config_from(paths, version, stored, overrides)


def config_from(paths: projects.ProjectPaths, version: str, stored: dict[str, Any],
                overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """:func:`build_config` for a config given as a dict (a version not created yet: a sweep's)."""
    overrides = dict(overrides or {})
    known = {f for f in TrainingConfig.__dataclass_fields__}
    # preview_after_training is ours, not kohya's: after_preview checks it, the trainer never sees it.
    unknown = sorted(k for k in overrides if k not in known and k != after_preview.KEY)
    if unknown:
        raise ValueError(MSG_UNKNOWN_KEYS.format(keys=", ".join(unknown)))
    data = {k: v for k, v in {**stored, **overrides}.items() if k in known}
    for key in _PROJECT_KEYS:
        data.pop(key, None)
    # A wrong type (text where a number goes) is named here, before validate() compares it with numbers.
    schema = TrainingConfig.field_schema()
    data = {key: check_field(f"config.{key}", value, schema[key]) for key, value in data.items()}
    config = TrainingConfig(**data)
    config.train_data_dir = str(paths.dataset)
    config.output_dir = str(paths.checkpoints)
    config.output_name = projects.output_name(paths.name, version)
    config.validate()
    return config


def saved_settings(config: TrainingConfig) -> dict[str, Any]:
    """What a version's ``config.json`` records: every setting but the project's own folders."""
    return {k: v for k, v in config.to_dict().items() if k not in _PROJECT_KEYS}


class TrainingService:
    """Runs one training at a time on a host and keeps what the UI and the API show about it."""

    def __init__(self, host: Host, root: str | Path | None = None,
                 sample_settings: SampleSettings | None = None) -> None:
        self.host = host
        self._root = Path(root) if root is not None else None
        self.sample_settings = sample_settings or SampleSettings()
        self._lock = threading.Lock()
        self._status = TrainingStatus()
        self._log: list[str] = []
        self._losses: list[tuple[int, float, float]] = []  # (step, loss, running average)
        self._stop = StopFlag()
        self._thread: threading.Thread | None = None
        self._log_file: Path | None = None
        self._record_file: Path | None = None
        self._epoch_losses: dict[int, list[float]] = {}
        self._end_listeners: list[Callable[[dict[str, Any]], None]] = []

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else self.host.data_dir()

    # -- queries ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status.as_dict()

    def is_running(self) -> bool:
        with self._lock:
            return self._status.state == RUNNING

    def log_lines(self, last: int = 200) -> list[str]:
        with self._lock:
            return self._log[-last:]

    def losses(self) -> list[tuple[int, float, float]]:
        with self._lock:
            return list(self._losses)

    def status_for(self, project: str, version: str) -> dict[str, Any]:
        """What the Train tab shows with this version selected: the running training, else the version's
        last recorded run (also from before a restart), else this app's last run or the idle status."""
        live = self.status()
        if live["state"] == RUNNING:
            return live
        record = self._last_run(project, version)
        if record is None:
            return live
        if record["state"] == RUNNING:  # recorded as running, yet no thread runs it: the app stopped
            record.update(state=INTERRUPTED, message=MSG_APP_STOPPED)
        return record

    def _last_run(self, project: str, version: str) -> dict[str, Any] | None:
        try:
            paths = projects.project_paths(self.root, project)
            data = json.loads((paths.version_dir(version) / LAST_RUN).read_text(encoding="utf-8"))
        except (projects.ProjectError, OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("state") not in (RUNNING, FINISHED, INTERRUPTED, FAILED):
            return None
        # Names from the folders (renamed since, maybe), every other field as the run left it.
        return {**TrainingStatus().as_dict(), **data, "project": paths.name, "version": version}

    def log_for(self, project: str, last: int = 200) -> list[str]:
        """This app's log of the running or last training, else the tail of the project's train.log."""
        lines = self.log_lines(last)
        if lines or not project:
            return lines
        try:
            text = projects.project_paths(self.root, project).train_log.read_text(encoding="utf-8")
        except (projects.ProjectError, OSError):
            return []
        return text.splitlines()[-last:]

    def can_resume(self, project: str, version: str) -> bool:
        try:
            paths = projects.project_paths(self.root, project)
            name = projects.output_name(paths.name, version)
        except projects.ProjectError:
            return False
        return (paths.checkpoints / f"{name}-state" / "state.pt").is_file()

    # -- control ------------------------------------------------------------------------------
    def start(self, project: str, version: str, overrides: dict[str, Any] | None = None,
              resume: bool = False, switch_base_model: bool = False) -> dict[str, Any]:
        """Validate and start a training in the background; returns the status snapshot.

        Raises :class:`TrainingBusy`, ``ProjectError``, ``ValueError`` or, where the version's base model
        is not the loaded checkpoint and ``switch_base_model`` is off, ``BaseModelMismatch`` before
        anything starts. A version that does not exist yet is created with the given settings.
        """
        kind = self._kind_of(project, version)
        reason = self.host.training_refusal() if kind is VersionKind.LORA else webui_session.support_refusal(
            self.host, kind)
        if reason:  # said now, not as a failure a second after "started"
            raise HostFeatureUnavailable(reason)
        with self._lock:
            if self._status.state == RUNNING:
                busy = MSG_BUSY if self._status.kind == kind.value else MSG_BUSY_KIND
                raise TrainingBusy(busy.format(project=self._status.project, version=self._status.version,
                                               kind=self._status.kind))
            paths = projects.project_paths(self.root, project)
            if not paths.dir.is_dir():
                raise projects.ProjectError(projects.MSG_PROJECT_MISSING.format(name=paths.name))
            version = projects.validate_name(version, "version")
            if kind is not VersionKind.LORA:
                return self._start_webui(paths, version)
            if not paths.version_dir(version).is_dir():
                projects.create_version(self.root, paths.name, version, {})
            stored = projects.read_version_config(self.root, paths.name, version)
            config = config_from(paths, version, stored, overrides)
            after = after_preview.settings_for(stored, overrides)
            if resume and not self.can_resume(paths.name, version):
                raise ValueError(MSG_NO_RESUME.format(project=paths.name, version=version))
            # Base model (issue 14): the checkpoint to load first, or the question whether to.
            switch = base_checkpoint.check_base_model(self.host, config.to_dict(), paths.name, version,
                                                      switch_base_model)
            saved = saved_settings(config)
            if after is not None:  # kept with the version, so every later training of it previews too
                saved[after_preview.KEY] = after.to_dict()
            projects.write_version_config(self.root, paths.name, version, saved)
            self._stop.clear()
            self._status = TrainingStatus(state=RUNNING, project=paths.name, version=version,
                                          total_epochs=config.max_train_epochs or 0, started_at=time.time(),
                                          message="Starting…")
            self._log = []
            self._losses = []
            self._epoch_losses = {}
            self._log_file = paths.train_log
            self._record_file = paths.version_dir(version) / LAST_RUN
            self._record()
            self._thread = threading.Thread(target=self._run_then_notify, args=(paths, version, config, resume, after, switch),
                                            name="model-workbench-train", daemon=True)
            self._thread.start()
            return self._status.as_dict()

    def _kind_of(self, project: str, version: str) -> VersionKind:
        """The version's kind (a version that does not exist yet is a LoRA one, created by start)."""
        try:
            return webui_fields.version_kind(projects.read_version_config(self.root, project, version))
        except projects.ProjectError:
            return VersionKind.LORA  # missing, or unreadable: the LoRA path says why

    def _start_webui(self, paths: projects.ProjectPaths, version: str) -> dict[str, Any]:
        """Start an embedding or hypernetwork version's run (call with the lock held; see webui_session)."""
        fields = webui_versions.stored_kind_fields(self.root, paths.name, version)
        request = webui_versions.train_request(self.root, paths.name, version, fields)
        self._stop.clear()
        self._status = TrainingStatus(state=RUNNING, project=paths.name, version=version, kind=request.kind.value,
                                      total_steps=fields.training.steps, started_at=time.time(),
                                      message="Starting…")
        self._log, self._losses, self._epoch_losses = [], [], {}
        self._log_file = paths.train_log
        self._record_file = paths.version_dir(version) / LAST_RUN
        self._record()
        self._thread = threading.Thread(target=self._run_then_notify_webui, args=(paths, version, request),
                                        name="model-workbench-train", daemon=True)
        self._thread.start()
        return self._status.as_dict()

    def _run_then_notify_webui(self, *args: Any) -> None:
        self._run_then_notify(*args, run=self._run_webui)

    def _on_webui_progress(self, update: ProgressUpdate) -> None:
        with self._lock:
            s = self._status
            s.step, s.total_steps = int(update.done), int(update.total)
            s.message = update.text or webui_session.MSG_KIND_PROGRESS.format(done=s.step, total=s.total_steps)
            text = s.message
        self.host.report_progress(ProgressUpdate(update.done, update.total, text))

    def _run_webui(self, paths: projects.ProjectPaths, version: str, request: WebuiTrainRequest) -> None:
        try:
            fields = request.fields
            self._log_line(webui_session.MSG_KIND_STARTED.format(
                kind=request.kind.value, name=fields.name, project=paths.name, version=version,
                steps=fields.training.steps))
            result = webui_session.run_webui_training(self.host, request, TRAIN_JOB, self._stop,
                                                      self._on_webui_progress)
            for snapshot in result.snapshots:
                self._log_line(webui_session.MSG_KIND_SAVED.format(step=snapshot.step, file=snapshot.path.name))
            with self._lock:
                self._status.checkpoints = [str(s.path) for s in result.snapshots]
            self._finish(INTERRUPTED if result.interrupted else FINISHED,
                         webui_session.finished_message(result, request.log_dir))
        except (HostFeatureUnavailable, ValueError, projects.ProjectError) as exc:
            self._finish(FAILED, MSG_FAILED.format(error=exc))
        except Exception as exc:  # WebUI's trainer is foreign code: the user sees a sentence, the log the rest
            self._log_line(traceback.format_exc())
            self._finish(FAILED, MSG_FAILED.format(error=f"{type(exc).__name__}: {exc}"))

    def stop(self) -> bool:
        """Ask the running training to stop after the current step; False when none runs."""
        with self._lock:
            running = self._status.state == RUNNING
            if running:
                self._status.message = "Stopping after the current step…"
        if running:
            self._stop.set()
        return running

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background thread; True when it has ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the end of a run: listeners (the training queue starts its next item) ------------------
    def add_end_listener(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(status)`` in the training thread once a run has completely ended (after
        everything ``_run`` does, so whatever follows a run is done before the next one starts)."""
        with self._lock:
            if callback not in self._end_listeners:
                self._end_listeners.append(callback)

    def _run_then_notify(self, *args: Any, run: Callable[..., None] | None = None) -> None:
        try:
            (run or self._run)(*args)
        finally:
            status = self.status()
            with self._lock:
                listeners = list(self._end_listeners)
            for callback in listeners:
                try:
                    callback(status)
                except Exception:  # a listener's bug must not hide the run's own result
                    self._log_line(traceback.format_exc())

    # -- the run ------------------------------------------------------------------------------
    def _log_line(self, text: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}"
        with self._lock:
            self._log.append(line)
            del self._log[:-LOG_LIMIT]
            log_file = self._log_file
        if log_file is not None:
            try:
                with open(log_file, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            except OSError:
                pass  # a full disk must not end the training; the in-memory log still has it

    def _should_stop(self) -> bool:
        try:
            host_stop = bool(self.host.interrupted())
        except Exception:
            host_stop = False
        return self._stop.is_set() or host_stop

    def _on_progress(self, p: Progress) -> None:
        with self._lock:
            s = self._status
            s.step, s.total_steps, s.epoch, s.total_epochs = p.step, p.total_steps, p.epoch, p.total_epochs
            s.loss, s.average_loss, s.lr, s.it_per_s = p.loss, p.average_loss, p.lr, p.it_per_s
            s.message = f"Epoch {p.epoch}/{p.total_epochs}, step {p.step}/{p.total_steps}, loss {p.average_loss:.4f}"
            self._losses.append((p.step, p.loss, p.average_loss))
            if len(self._losses) > LOSS_LIMIT:
                self._losses = self._losses[::2]
            self._epoch_losses.setdefault(p.epoch, []).append(p.loss)
            text = s.message
        self.host.report_progress(ProgressUpdate(p.step, p.total_steps, text))

    def _on_checkpoint(self, path: Path, epoch: int, step: int) -> None:
        with self._lock:
            losses = self._epoch_losses.get(epoch) or []
            if str(path) not in self._status.checkpoints:
                self._status.checkpoints.append(str(path))
        loss = sum(losses) / len(losses) if losses else None
        # Beside the file (<file>.json): what projects.checkpoint_info shows in the checkpoint table.
        sidecar = path.with_name(path.name + ".json")
        try:
            sidecar.write_text(json.dumps({"epoch": epoch, "steps": step, "loss": loss}), encoding="utf-8")
        except OSError:
            pass
        self._log_line(f"Saved {path.name} (epoch {epoch}, step {step}"
                       + (f", mean loss {loss:.4f})" if loss is not None else ")"))

    def _on_sample(self, paths: projects.ProjectPaths, config: TrainingConfig) -> Callable[[SampleRequest], None]:
        def sample(request: SampleRequest) -> None:
            settings = self.sample_settings
            width, height = config.resolution_wh()
            for i, prompt in enumerate(request.prompts):
                try:
                    result = self.host.generate(GenerationRequest(
                        prompt=prompt, negative_prompt=settings.negative_prompt, seed=request.seed % (2**32),
                        steps=settings.steps, sampler_name=settings.sampler_name, cfg_scale=settings.cfg_scale,
                        width=settings.width or width, height=settings.height or height))
                except Exception as exc:  # a sample must never end the training
                    self._log_line(MSG_SAMPLE_FAILED.format(epoch=request.epoch, error=exc))
                    return
                paths.samples.mkdir(parents=True, exist_ok=True)
                for j, image in enumerate(result.images):
                    target = paths.samples / f"{config.output_name}-{request.epoch:06d}-{i:02d}{'' if j == 0 else f'-{j}'}.png"
                    image.save(target)
                    with self._lock:
                        self._status.samples.append(str(target))
                    self._log_line(f"Sample for epoch {request.epoch}: {target.name}")
        return sample

    def _record(self) -> None:
        """Write the status beside the version (call with the lock held), so that a reload or a restart
        shows how its last run went."""
        if self._record_file is None:
            return
        try:
            write_json_atomic(self._record_file, self._status.as_dict())
        except OSError:
            pass  # only the after-restart view needs it; the training goes on

    def _finish(self, state: str, message: str, log: bool = True) -> None:
        with self._lock:
            self._status.state = state
            self._status.message = message
            self._status.finished_at = time.time()
            self._record()
        if log:
            self._log_line(message)

    # -- the preview after training (after_preview) ------------------------------------------------
    def _preview_after_training(self, paths: projects.ProjectPaths, version: str, config: TrainingConfig,
                                settings: after_preview.AfterTrainingPreview, checkpoints: list[Path]) -> None:
        """Render the grid while the run still counts as running (no other training or preview can take
        the GPU in between, and Stop stops the grid); the status carries its progress and files."""
        self._stop.clear()  # the Stop that ended the training must not stop its preview too; a second one does

        def update(preview: dict[str, Any]) -> None:
            with self._lock:
                self._status.preview = preview
                self._status.message = preview["message"]

        final = after_preview.render_after_training(
            self.host, self.root, paths.name, version, settings, checkpoints, config.resolution_wh(),
            config.sample_prompts, update, self._stop)
        self._log_line(final["message"])


    def _load_base_model(self, switch: BaseCheckpoint | None) -> None:
        """Load the version's base model where another is loaded (inside the GPU lock)."""
        if switch is not None:
            self._log_line(base_checkpoint.MSG_LOADING.format(name=switch.title))
            base_checkpoint.switch_to(self.host, switch)

    def _record_base_model(self, paths: projects.ProjectPaths, version: str, loaded: BaseCheckpoint | None) -> None:
        """The version's config records the checkpoint it trains on, with the hash WebUI computed on loading."""
        if loaded is not None:
            base_checkpoint.record_base_model(self.root, paths.name, version, loaded)

    def _run(self, paths: projects.ProjectPaths, version: str, config: TrainingConfig, resume: bool,
             after: after_preview.AfterTrainingPreview | None = None,
             switch: BaseCheckpoint | None = None) -> None:
        try:
            with self.host.gpu_lock(TRAIN_JOB):
                self._load_base_model(switch)
                scan = scan_dataset(config.train_data_dir, config.caption_extension)
                for problem in scan.problems:
                    self._log_line(problem)
                dataset = TrainingDataset(scan, config)  # ValueError when there are no usable images
                with self.host.trainable_model() as model:
                    loaded = self.host.loaded_checkpoint()  # Forge loads lazily: known (and hashed) by now
                    self._record_base_model(paths, version, loaded)
                    trainer = Trainer(model, config, dataset=dataset, on_progress=self._on_progress,
                                      on_sample=self._on_sample(paths, config) if config.sample_prompts else None,
                                      on_checkpoint=self._on_checkpoint, stop=self._should_stop,
                                      run_info=base_checkpoint.run_info(loaded))
                    self._log_line(MSG_STARTED.format(project=paths.name, version=version,
                                                      epochs=config.max_train_epochs or "?",
                                                      images=scan.num_train_images))
                    result = trainer.run(resume=resume)
            with self._lock:
                self._status.checkpoints = [str(p) for p in result.checkpoints]
            state, message = ((INTERRUPTED, result.message) if result.interrupted else
                              (FINISHED, MSG_FINISHED.format(count=len(result.checkpoints), folder=paths.checkpoints)))
            if after is not None and after.enabled:
                self._log_line(message)  # the training's end, then its preview grid
                self._preview_after_training(paths, version, config, after, result.checkpoints)
                self._finish(state, message, log=False)
            else:
                self._finish(state, message)
        except (HostFeatureUnavailable, ValueError, projects.ProjectError) as exc:
            self._finish(FAILED, MSG_FAILED.format(error=exc))
        except Exception as exc:  # the user sees a sentence; the log keeps the traceback
            self._log_line(traceback.format_exc())
            self._finish(FAILED, MSG_FAILED.format(error=f"{type(exc).__name__}: {exc}"))


# One service per host, shared by the tab and the HTTP API.
_service_of_host: PerHost[TrainingService] = PerHost(TrainingService)


def service_for(host: Host) -> TrainingService:
    """The host's training service (created on first use)."""
    return _service_of_host(host)
