"""The Downloads panel as pure HTML from the queue's snapshots (progress, speed, ETA, actions)."""

from __future__ import annotations

from collections.abc import Sequence

from model_workbench.downloads import JobSnapshot, JobStatus
from model_workbench.ui.civitai_views import esc, human_duration, human_size, js_arg, with_key_hint
from model_workbench.ui.i18n import t, tm

STATUS_LABELS = {
    JobStatus.QUEUED: "Queued", JobStatus.RESOLVING: "Starting", JobStatus.DOWNLOADING: "Downloading",
    JobStatus.VERIFYING: "Verifying", JobStatus.DONE: "Installed", JobStatus.FAILED: "Failed",
    JobStatus.CANCELLED: "Cancelled", JobStatus.PAUSED: "Paused",
}
STATUS_CSS = {JobStatus.DONE: "mw-badge-installed", JobStatus.FAILED: "mw-badge-danger",
              JobStatus.CANCELLED: "mw-badge-warn", JobStatus.PAUSED: "mw-badge-warn"}
AUTH_ERRORS = {"AuthRequiredError"}


def _status_label(status: JobStatus) -> str:
    # Literal t() calls, so the localisation test sees each label.
    return {
        "Queued": t("Queued"), "Starting": t("Starting"), "Downloading": t("Downloading"),
        "Verifying": t("Verifying"), "Installed": t("Installed"), "Failed": t("Failed"),
        "Cancelled": t("Cancelled"), "Paused": t("Paused"),
    }[STATUS_LABELS[status]]


def _action(label: str, action: str, job_id: str) -> str:
    return (f"<button class='mw-small-button' data-action='{esc(action)}' "
            f"onclick='modelWorkbench.queueAction({js_arg(action)},{js_arg(job_id)})'>{esc(label)}</button>")


def job_html(job: JobSnapshot, standalone: bool) -> str:
    fraction = job.fraction if job.fraction is not None else (1.0 if job.status == JobStatus.DONE else 0.0)
    percent = max(0.0, min(100.0, fraction * 100))
    sizes = f"{human_size(job.bytes)} / {human_size(job.total)}" if job.total else human_size(job.bytes)
    facts = [sizes]
    if job.status == JobStatus.DOWNLOADING:
        facts += [f"{human_size(job.speed)}/s", tf_eta(job.eta)]
    actions = []
    if job.status.active:
        actions.append(_action(t("Cancel"), "cancel", job.id))
    elif job.status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PAUSED):
        actions.append(_action(t("Retry"), "retry", job.id))
    if not job.status.active:
        actions.append(_action(t("Remove"), "remove", job.id))
    message = job.message
    if job.error_kind in AUTH_ERRORS and not job.own_source:  # a Hub job's sentence already says what to do
        message = with_key_hint(message, standalone)
    where = ""
    if job.destination:
        label = t("Saved to") if job.status == JobStatus.DONE else t("Destination")
        where = f"<div class='mw-muted mw-path'><b>{esc(label)}</b> {esc(job.destination)}</div>"
    css = STATUS_CSS.get(job.status, "")
    message_css = " mw-job-error" if job.status == JobStatus.FAILED else ""
    return (
        f"<div class='mw-job' data-job-id='{esc(job.id)}' data-status='{esc(job.status.value)}'>"
        f"<div class='mw-job-head'><span class='mw-job-name'>{esc(job.name)}</span>"
        f"<span class='mw-badge {css}'>{esc(_status_label(job.status))}</span></div>"
        f"<div class='mw-progress'><div class='mw-progress-bar' style='width:{percent:.1f}%'></div></div>"
        f"<div class='mw-job-facts'>{''.join(f'<span>{esc(f)}</span>' for f in facts)}"
        f"<span class='mw-job-actions'>{''.join(actions)}</span></div>"
        f"<div class='mw-job-message{message_css}'>{esc(tm(message))}</div>{where}</div>"
    )


def tf_eta(eta: float | None) -> str:
    return t("ETA") + " " + human_duration(eta)


def queue_html(jobs: Sequence[JobSnapshot], standalone: bool = False) -> str:
    """Newest first; an empty queue says how to add a download."""
    if not jobs:
        return f"<div class='mw-empty mw-small'>{esc(t('No downloads yet. Open a model and press Download.'))}</div>"
    active = sum(1 for j in jobs if j.status.active)
    finished = any(j.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED) for j in jobs)
    clear = _action(t("Clear finished"), "clear", "") if finished else ""
    head = (f"<div class='mw-queue-head'>{esc(t('Downloads'))} <span class='mw-muted'>({active} {esc(t('active'))})"
            f"</span> {clear}</div>")
    ordered = sorted(jobs, key=lambda j: int(j.id.rsplit("-", 1)[-1]) if j.id.rsplit("-", 1)[-1].isdigit() else 0,
                     reverse=True)
    return f"<div class='mw-queue'>{head}{''.join(job_html(j, standalone) for j in ordered)}</div>"


def any_active(jobs: Sequence[JobSnapshot]) -> bool:
    return any(j.status.active for j in jobs)
