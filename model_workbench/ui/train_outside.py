"""The "Runs made outside the tab" sub-tab: WebUI's own Train tab runs, gridded and published like versions.

Users who trained an embedding or a hypernetwork in WebUI's own Train tab find its runs here, read from
the host's WebUI training log folder (``<date>/<name>/embeddings|hypernetworks/<name>-<step>.pt``). A run is
chosen by date, name, kind and number of steps; its steps are gridded by the same core service and
shown in the same grid viewer as a version's (``train_previews``), and a chosen step is published into
WebUI's folder of its kind the way a version's step is. A host without that folder (the standalone
app) says why instead of showing empty controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from model_workbench.host import Host
from model_workbench.training.webui_kinds import StepSnapshot, VersionKind
from model_workbench.training.webui_previews import outside_source
from model_workbench.training.webui_runs import outside_runs
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown, long_job_kwargs
from model_workbench.ui.i18n import t, tf
from model_workbench.ui.train_kinds import kind_name
from model_workbench.ui.train_previews import (
    _run,
    generation_settings,
    grid_viewer,
    overwrite_box,
    prompt_lines,
    publish_kind_step,
    publish_label,
    viewer_outputs,
)
from model_workbench.ui.train_tab import on_page_load

PREFIX = "mw_train_outside_"


@dataclass(frozen=True)
class RunEntry:
    """One kind of one run, as the run dropdown offers it (a run that saved both kinds is two entries)."""

    run_id: str  # "<date>/<name>"
    kind: VersionKind
    label: str
    snapshots: list[StepSnapshot]


def run_entries(host: Host) -> list[RunEntry]:
    """The runs in the host's WebUI training log folder, newest date first, one entry per kind."""
    entries = []
    for run in outside_runs(host.webui_training_log_dir()):
        for kind, snapshots in run.snapshots.items():
            count = t("1 step") if len(snapshots) == 1 else tf("{count} steps", count=len(snapshots))
            label = tf("{date} · {name} · {kind} · {count}", date=run.date, name=run.name, kind=kind_name(kind),
                       count=count)
            entries.append(RunEntry(run.id, kind, label, snapshots))
    return entries


def entry_for(host: Host, label: str | None) -> RunEntry | None:
    return next((e for e in run_entries(host) if e.label == label), None) if label else None


def folder_note(host: Host, entries: list[RunEntry]) -> str:
    """Where the runs come from, or why there are none."""
    folder = host.webui_training_log_dir()
    if folder is None:
        return H.message(t("This app has no WebUI training log folder: it is not running inside Stable Diffusion "
                           "WebUI. Runs trained in WebUI's own Train tab are listed here when Model Workbench "
                           "runs as a WebUI extension."), "notice")
    if not entries:
        return H.message(tf("No training runs in {folder} yet. Embeddings and hypernetworks trained in WebUI's own "
                            "Train tab appear here; click Refresh after training.", folder=str(folder)), "notice")
    return H.message(tf("Runs trained in WebUI's own Train tab, read from {folder}.", folder=str(folder)), "notice")


def build_outside_tab(ui: Any) -> None:
    c = ui.c
    host = ui.ctx.host
    has_folder = host.webui_training_log_dir() is not None
    entries = run_entries(host)
    labels = [e.label for e in entries]
    c["outside_note"] = gr.HTML(folder_note(host, entries), elem_id=PREFIX + "note")
    with gr.Column(visible=has_folder, elem_id=PREFIX + "controls") as c["outside_controls"]:
        with gr.Row():
            c["outside_run"] = dropdown(labels, value=labels[0] if labels else None,
                                        label=t("Run (date · name · kind · steps)"), elem_id=PREFIX + "run")
            c["outside_refresh"] = gr.Button(t("Refresh"), elem_id=PREFIX + "refresh")
        c["outside_steps"] = gr.HTML(elem_id=PREFIX + "steps")
        with gr.Row():
            c["outside_weights"] = gr.Textbox(label=t("Hypernetwork strengths"), value="0.5, 1.0",
                                              elem_id=PREFIX + "weights")
            c["outside_seed"] = gr.Number(label=t("Seed"), value=1234, precision=0, elem_id=PREFIX + "seed")
            c["outside_baseline"] = gr.Checkbox(label=t("First column at strength 0 (baseline)"), value=True,
                                                elem_id=PREFIX + "baseline")
        with gr.Row():
            c["outside_prompt"] = gr.Textbox(label=t("Prompts, one per line (several make a third axis)"), lines=2,
                                             elem_id=PREFIX + "prompt")
            templates = host.prompt_templates()
            default = "subject_filewords.txt" if "subject_filewords.txt" in templates else None  # WebUI's own
            c["outside_template"] = dropdown(templates, value=default or (templates[0] if templates else None),
                                             label=t("Prompt template (used when no prompt is typed)"),
                                             elem_id=PREFIX + "template")
        gr.Markdown(t("Steps, size, sampler, CFG scale and negative prompt come from the Preview grid tab."))
        with gr.Row():
            c["outside_grid_run"] = gr.Button(t("Preview all (same seed)"), variant="primary",
                                              elem_id=PREFIX + "grid_run")
            c["outside_stop"] = gr.Button(t("Stop"), variant="stop", elem_id=PREFIX + "stop")
        grid_viewer(c, "outside", t("Grid"))
        with gr.Row():
            c["outside_publish_step"] = dropdown([], label=t("Step to publish"), elem_id=PREFIX + "publish_step")
            c["outside_overwrite"] = overwrite_box(PREFIX + "overwrite")
        c["outside_publish"] = gr.Button(t("Publish"), variant="primary", elem_id=PREFIX + "publish")
        c["outside_publish_status"] = gr.HTML(elem_id=PREFIX + "publish_status")
    _wire(ui)


def _wire(ui: Any) -> None:
    c = ui.c
    host = ui.ctx.host

    def chosen(label: str | None) -> dict:
        """The section filled for one run: its steps and the grid's and publish's fields for its kind."""
        entry = entry_for(host, label)
        kind = entry.kind if entry else VersionKind.HYPERNETWORK
        names = [s.path.name for s in entry.snapshots] if entry else []
        baseline = t("First column without the embedding (baseline)") if kind is VersionKind.EMBEDDING \
            else t("First column at strength 0 (baseline)")
        return {c["outside_steps"]: H.snapshot_table(entry.snapshots, previewable=False) if entry else "",
                c["outside_weights"]: gr.update(visible=kind is VersionKind.HYPERNETWORK),
                c["outside_template"]: gr.update(visible=kind is VersionKind.EMBEDDING),
                c["outside_baseline"]: gr.update(label=baseline),
                c["outside_publish_step"]: gr.update(choices=names, value=names[-1] if names else None),
                c["outside_publish"]: gr.update(value=publish_label(kind)),
                c["outside_publish_status"]: "", c["outside_overwrite"]: False}

    def refresh(current: str | None) -> dict:
        entries = run_entries(host)
        labels = [e.label for e in entries]
        label = current if current in labels else (labels[0] if labels else None)
        return {c["outside_note"]: folder_note(host, entries),
                c["outside_run"]: gr.update(choices=labels, value=label), **chosen(label)}

    def grid(label: str, weights: str, prompts: str, template: str, seed: float, baseline: bool, negative: str,
             steps: float, width: float, height: float, cfg: float, sampler: str):
        entry = entry_for(host, label)
        if entry is None:
            yield {c["outside_progress"]: H.error(t("Choose a run first; click Refresh to list new ones."))}
            return
        settings = generation_settings(negative, steps, width, height, cfg, sampler)
        yield from _run(ui, "outside", lambda report, stop: ui.kind_previews.grid(
            outside_source(host, entry.run_id, entry.kind), weights, prompt_lines(prompts), settings,
            seed=int(seed if seed is not None else -1), template=template or "", baseline=bool(baseline),
            progress=report, stop=stop))

    def stop() -> dict:
        ui.preview_stop.set()
        return {c["outside_progress"]: H.message(t("Stopping after the current cell; finished cells are kept."),
                                                 "notice")}

    def publish(label: str, step: str, overwrite: bool) -> dict:
        entry = entry_for(host, label)
        if entry is None:
            return {c["outside_publish_status"]: H.error(t("Choose a run first; click Refresh to list new ones."))}
        status = publish_kind_step(ui, lambda: outside_source(host, entry.run_id, entry.kind), step,
                                   overwrite=bool(overwrite))
        return {c["outside_publish_status"]: status, c["outside_overwrite"]: False}  # confirm each replacement anew

    selected = [c["outside_steps"], c["outside_weights"], c["outside_template"],
                c["outside_baseline"], c["outside_publish_step"], c["outside_publish"], c["outside_publish_status"],
                c["outside_overwrite"]]
    listed = [c["outside_note"], c["outside_run"], *selected]
    c["outside_refresh"].click(refresh, [c["outside_run"]], listed)
    c["outside_run"].change(chosen, [c["outside_run"]], selected)
    c["outside_publish"].click(publish, [c["outside_run"], c["outside_publish_step"], c["outside_overwrite"]],
                               [c["outside_publish_status"], c["outside_overwrite"]])
    c["outside_stop"].click(stop, None, [c["outside_progress"]], queue=False)
    on_page_load(refresh, [c["outside_run"]], listed)  # runs trained since the page was built

    def wire() -> None:  # the shared render settings live on the Preview grid tab, built after this one
        shared = [c["grid_negative"], c["grid_steps"], c["grid_width"], c["grid_height"], c["grid_cfg"],
                  c["grid_sampler"]]
        c["outside_grid_run"].click(grid, [c["outside_run"], c["outside_weights"], c["outside_prompt"],
                                           c["outside_template"], c["outside_seed"], c["outside_baseline"], *shared],
                                    viewer_outputs(c, "outside"), **long_job_kwargs())

    ui.later.append(wire)
