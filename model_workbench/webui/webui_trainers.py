"""Run WebUI's own ``train_embedding`` / ``train_hypernetwork`` for a workbench version, leaving no trace.

WebUI's Train tab creates the network in the user's folder (``create_embedding`` writes
``embeddings/<name>.pt``, ``create_hypernetwork`` ``models/hypernetworks/<name>.pt``), trains it, saves
step copies into ``<log dir>/<date>/<name>/embeddings|hypernetworks/<name>-<step>.pt`` and the result
over the created file. Here the folders WebUI creates in (``cmd_opts.embeddings_dir`` /
``hypernetwork_dir``) point at a temporary folder for the run, so nothing lands among the user's files;
the embedding database and hypernetwork list are reloaded from the user's folders afterwards.

The step copies are the version's snapshots, numbered as WebUI names them: a copy is saved when
``steps_done = step + 1`` is a multiple of the interval, so ``<name>-N.pt`` holds N - 1 optimizer steps.
The final result (``steps`` optimizer steps) joins them under WebUI's number for it, ``steps + 1``, unless
WebUI saved that copy itself.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch.utils.data

from model_workbench.host import ProgressCallback, ProgressUpdate, StopFlag
from model_workbench.training.webui_fields import parse_learn_rate
from model_workbench.training.webui_kinds import (
    EmbeddingFields,
    HypernetworkFields,
    StepSnapshot,
    VersionKind,
    WebuiTrainingFields,
    WebuiTrainRequest,
)
from model_workbench.webui import messages
from model_workbench.webui.sampler_compat import sampler_takes_data_source
from model_workbench.webui.webui_network_state import (
    hypernet_layers_aside,
    loaded_hypernetworks_kept,
    model_grads_kept,
)

POLL_S = 0.5
SUBFOLDER = {VersionKind.EMBEDDING: "embeddings", VersionKind.HYPERNETWORK: "hypernetworks"}


@dataclass
class WebuiTrainingModules:
    """The WebUI modules a run uses (``shared``, ``textual_inversion``, ``hypernetwork``, ``sd_hijack``,
    ``devices``) and the model guard the LoRA path uses (``guard()`` → context manager)."""

    shared: Any
    textual_inversion: Any
    hypernetwork: Any
    sd_hijack: Any
    devices: Any
    guard: Callable[[], AbstractContextManager[Any]]


def webui_name(name: str) -> str:
    """The name WebUI's create functions keep: letters, digits and ``._- `` (as they strip it)."""
    return "".join(x for x in name if x.isalnum() or x in "._- ")


def _trainer_arguments(fields: WebuiTrainingFields, name: str, request: WebuiTrainRequest) -> list[Any]:
    """train_embedding's / train_hypernetwork's positional arguments after ``id_task`` up to the save
    interval, WebUI v1.10.1's order."""
    return [name, fields.learn_rate, fields.batch_size, fields.gradient_step, str(request.data_dir),
            str(request.log_dir), fields.width, fields.height, fields.varsize, fields.steps, fields.clip_grad_mode,
            fields.clip_grad_value, fields.shuffle_tags, fields.tag_drop_out, fields.latent_sampling_method,
            fields.use_weight, fields.create_image_every, fields.save_every, fields.template_file]


def _preview_arguments(fields: WebuiTrainingFields) -> list[Any]:
    """The trainers' own preview settings: off (``preview_from_txt2img`` False); the rest as the tab's."""
    return [False, "", "", 20, "Euler a", 7.0, -1, fields.width, fields.height]


def _check_inputs(request: WebuiTrainRequest, templates: Any) -> None:
    """What WebUI's trainer would refuse in its own words (or, for a clipping value, as an "Invalid learning
    rate schedule"), said in ours before anything is created."""
    training = request.fields.training
    if not webui_name(request.fields.name).strip():
        raise ValueError(messages.NETWORK_NAME_EMPTY)
    if training.template_file not in templates:  # train_* look the template up in this table
        raise ValueError(messages.TEMPLATE_MISSING.format(name=training.template_file))
    data = Path(request.data_dir)
    if not data.is_dir() or not any(data.iterdir()):
        raise ValueError(messages.DATASET_EMPTY)
    parse_learn_rate(training.learn_rate, training.steps)  # WebUI's LearnScheduleIterator reading
    if training.clip_grad_mode in ("value", "norm"):  # WebUI reads the value with the same scheduler
        try:
            parse_learn_rate(training.clip_grad_value, training.steps)
        except ValueError:
            raise ValueError(messages.CLIP_GRAD_INVALID.format(text=training.clip_grad_value)) from None


@contextmanager
def _progress_forwarded(state: Any, total: int, progress: ProgressCallback | None,
                        stop: StopFlag | None) -> Iterator[None]:
    """While WebUI's trainer runs: its step (``state.job_no``) to ``progress``; ``stop`` to its Interrupt."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(POLL_S):
            if stop is not None and stop.is_set() and not state.interrupted:
                state.interrupt()
            if progress is not None:
                step = int(state.job_no or 0)
                progress(ProgressUpdate(step, total, messages.TRAINER_STEP.format(done=step, total=total)))

    watcher = threading.Thread(target=watch, name="model-workbench-webui-trainer", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


@contextmanager
def _option(cmd_opts: Any, name: str, value: str) -> Iterator[None]:
    saved = getattr(cmd_opts, name, None)
    setattr(cmd_opts, name, value)
    try:
        yield
    finally:
        setattr(cmd_opts, name, saved)


@contextmanager
def _optimizations_undone(modules: WebuiTrainingModules, always: bool) -> Iterator[None]:
    """As the Train tab: WebUI's cross-attention optimizations off during training (always for
    hypernetworks, by the "training_xattention_optimizations" option for embeddings)."""
    undo = always or not getattr(modules.shared.opts, "training_xattention_optimizations", False)
    if undo:
        modules.sd_hijack.undo_optimizations()
    try:
        yield
    finally:
        model = modules.shared.sd_model
        for part in ("cond_stage_model", "first_stage_model"):  # "unload models when training" moved them
            getattr(model, part).to(modules.devices.device)
        if undo:
            modules.sd_hijack.apply_optimizations()


def _train_embedding(modules: WebuiTrainingModules, request: WebuiTrainRequest, fields: EmbeddingFields,
                     work: Path, task: str) -> tuple[str, Any, str]:
    shared, ti = modules.shared, modules.textual_inversion
    with _option(shared.cmd_opts, "embeddings_dir", str(work)):
        created = Path(ti.create_embedding(fields.name, fields.vectors_per_token, False, init_text=fields.init_text))
        name = created.stem
        db = modules.sd_hijack.model_hijack.embedding_db
        db.load_from_file(str(created), created.name)  # the database WebUI trains from, by its own loader
        if name not in db.word_embeddings:  # WebUI reports a file it cannot read and goes on
            raise RuntimeError(messages.EMBEDDING_UNREADABLE)
        training = fields.training
        with _optimizations_undone(modules, always=False):
            embedding, final = ti.train_embedding(task, *_trainer_arguments(training, name, request), True,
                                                  *_preview_arguments(training))
    return name, embedding, final


def _train_hypernetwork(modules: WebuiTrainingModules, request: WebuiTrainRequest, fields: HypernetworkFields,
                        work: Path, task: str) -> tuple[str, Any, str]:
    shared, hn = modules.shared, modules.hypernetwork
    name = webui_name(fields.name)
    with _option(shared.cmd_opts, "hypernetwork_dir", str(work)):
        # create_hypernetwork saves <dir>/<name>.pt and relists the (temporary) folder into shared.hypernetworks.
        hn.create_hypernetwork(fields.name, list(fields.sizes), False, fields.layer_structure, fields.activation,
                               fields.weight_init, fields.add_layer_norm, fields.use_dropout, fields.dropout_structure)
        shared.loaded_hypernetworks = []  # as the Train tab
        training = fields.training
        with _optimizations_undone(modules, always=True):
            network, final = hn.train_hypernetwork(task, *_trainer_arguments(training, name, request),
                                                   *_preview_arguments(training))
    return name, network, final


def step_snapshots(log_dir: Path, kind: VersionKind, name: str, since: float = 0.0) -> list[StepSnapshot]:
    """The ``<name>-<step>.pt`` files of ``name``'s runs under ``log_dir`` (any date), written at ``since``
    or later, oldest step first."""
    found: dict[int, Path] = {}
    for path in Path(log_dir).glob(f"*/{name}/{SUBFOLDER[kind]}/{name}-*.pt"):
        step = path.stem[len(name) + 1:]
        if step.isdigit() and path.stat().st_mtime >= since:
            found[int(step)] = path
    return [StepSnapshot(kind, name, step, found[step]) for step in sorted(found)]


def _keep_final(snapshots: list[StepSnapshot], kind: VersionKind, name: str, trained: int, final: Path,
                run_dir: Path) -> list[StepSnapshot]:
    """The trained result beside WebUI's copies under WebUI's number for it, unless WebUI saved it."""
    step = trained + 1
    if not final.is_file() or any(s.step == step for s in snapshots):
        return snapshots
    folder = snapshots[-1].path.parent if snapshots else run_dir / name / SUBFOLDER[kind]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}-{step}.pt"
    shutil.copy2(final, target)
    return [*snapshots, StepSnapshot(kind, name, step, target)]


def train_webui_network(modules: WebuiTrainingModules, request: WebuiTrainRequest,
                        progress: ProgressCallback | None = None, stop: StopFlag | None = None) -> list[StepSnapshot]:
    """Create and train the request's network with WebUI's trainer; its step snapshots, oldest first."""
    fields, shared = request.fields, modules.shared
    _check_inputs(request, modules.textual_inversion.list_textual_inversion_templates())
    Path(request.log_dir).mkdir(parents=True, exist_ok=True)
    run_dir = Path(request.log_dir) / datetime.now().strftime("%Y-%m-%d")  # WebUI's own <date> folder
    started = time.time() - 1
    total = fields.training.steps
    task = f"model-workbench-{uuid.uuid4().hex[:12]}"
    train = _train_embedding if request.kind is VersionKind.EMBEDDING else _train_hypernetwork
    model = shared.sd_model
    db = modules.sd_hijack.model_hijack.embedding_db
    try:
        with tempfile.TemporaryDirectory(prefix="model-workbench-webui-") as work, \
                loaded_hypernetworks_kept(shared), modules.guard(), \
                model_grads_kept(model), _progress_forwarded(shared.state, total, progress, stop):
            try:
                # inside the guard: the layers the trainer hangs on the attention modules are off again (and
                # those a generation had left there back) before the guard compares the model
                with hypernet_layers_aside(model), sampler_takes_data_source(torch.utils.data.Sampler):
                    name, network, final = train(modules, request, fields, Path(work), task)
            except (AssertionError, ValueError) as error:  # validate_train_inputs' refusals, in WebUI's words
                raise ValueError(messages.TRAINER_REFUSED.format(reason=str(error).rstrip("."))) from error
            step = int(getattr(network, "step", 0) or 0)
            snapshots = _keep_final(step_snapshots(request.log_dir, request.kind, name, started), request.kind,
                                    name, step, Path(final), run_dir)
    finally:
        db.load_textual_inversion_embeddings(force_reload=True)  # the user's folder again, without ours
        shared.reload_hypernetworks()
    if step < total and not shared.state.interrupted:
        raise RuntimeError(messages.TRAINER_FAILED.format(done=step, total=total))
    return snapshots
