"""The run of an embedding or hypernetwork version: WebUI's trainer behind the host, in the training service.

:class:`~model_workbench.training.session.TrainingService` starts it when the version's kind is not LoRA
(so the Train button, ``POST /train``, ``POST /webui-kinds/train`` and the queue all run it, one training
of any kind at a time). What runs here, in the service's thread:

- under ``host.gpu_lock``, ``host.train_webui_network(request, progress, stop)``: WebUI's own trainer;
  its progress fills the same status the LoRA training fills (step, total steps, message) and the host's
  progress bar; Stop and the host's Interrupt stop it at the next step;
- the snapshots it saved become the run's checkpoints (``status["checkpoints"]``), and the version's log
  folder keeps them for :func:`~.webui_runs.version_snapshots` after a reload or restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..host import Host, HostFeatureUnavailable, ProgressUpdate, StopFlag
from .webui_kinds import StepSnapshot, VersionKind, WebuiTrainRequest

MSG_KIND_STARTED = "Training the {kind} {name} for {project} / {version}: {steps} steps with WebUI's trainer."
MSG_KIND_PROGRESS = "Step {done}/{total}"
MSG_KIND_FINISHED = "Training finished: {count} steps saved in {folder}."
MSG_KIND_STOPPED = "Training stopped: {count} steps saved in {folder}."
MSG_KIND_SAVED = "Saved step {step}: {file}"
MSG_CANNOT_TRAIN_KIND = "This host cannot train a {kind}."


def support_refusal(host: Host, kind: VersionKind) -> str | None:
    """Why ``host`` cannot train ``kind`` with WebUI's trainer (its own sentence), or None."""
    for support in host.webui_trainer_support():
        if support.kind is kind:
            return support.train_reason
    return MSG_CANNOT_TRAIN_KIND.format(kind=kind.value)


@dataclass
class WebuiRunResult:
    snapshots: list[StepSnapshot]
    interrupted: bool


def run_webui_training(host: Host, request: WebuiTrainRequest, job: str, stop: StopFlag,
                       on_progress: Callable[[ProgressUpdate], None]) -> WebuiRunResult:
    """Train under the host's GPU lock; the snapshots, oldest first, and whether a stop ended it early."""
    with host.gpu_lock(job):
        snapshots = list(host.train_webui_network(request, on_progress, stop))
        interrupted = stop.is_set() or bool(host.interrupted())
    if not snapshots and interrupted:
        return WebuiRunResult([], True)
    if request.fields.training.steps and snapshots and snapshots[-1].step < request.fields.training.steps:
        interrupted = True  # ended before the last step: a stop (the flag may have been cleared since)
    return WebuiRunResult(snapshots, interrupted)


def finished_message(result: WebuiRunResult, folder: Path) -> str:
    template = MSG_KIND_STOPPED if result.interrupted else MSG_KIND_FINISHED
    return template.format(count=len(result.snapshots), folder=folder)


def refusal_error(host: Host, kind: VersionKind) -> HostFeatureUnavailable | None:
    reason = support_refusal(host, kind)
    return HostFeatureUnavailable(reason) if reason else None
