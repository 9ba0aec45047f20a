"""The Train tab's sweep preview and its Queue section (the queue itself: ``training.queue``).

A form field given several values ("1e-4, 5e-5") makes a sweep: the line under Start says how many
versions it makes and their names; Start creates and queues them. The Queue lists every item with its
state; Up, Down and Remove change it, Run queue starts (or resumes) it, and "Compare these versions"
renders the Compare tab's grid of the latest finished sweep in one click.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import gradio as gr

from model_workbench.training import projects
from model_workbench.training.queue import QueueError, TrainingQueue, queue_for
from model_workbench.training.sweep import SweepPlan, split_settings
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown, long_job_kwargs
from model_workbench.ui.i18n import t, tf, tm
from model_workbench.ui.train_previews import compare_wiring


def queue_of(ui: Any) -> TrainingQueue:
    return queue_for(ui.ctx.host)


def state_label(state: str) -> str:
    return t("Queued") if state == "queued" else H.state_label(state)


def queue_table(items: Sequence[dict[str, Any]]) -> str:
    """One row per item: place, project / version, state and its last message."""
    if not items:
        return f"<div class='mw-notice'>{html.escape(t('The queue is empty. Give a setting several values, separated by commas, to queue a sweep.'))}</div>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("#", t("Version"), t("State"), t("Message")))
    rows = []
    for place, item in enumerate(items, 1):
        state = state_label(item["state"]) + (" " + t("(resumed)") if item.get("resume") else "")
        rows.append(f"<tr data-state='{html.escape(item['state'], quote=True)}'><td>{place}</td>"
                    f"<td>{html.escape(item['project'])} / {html.escape(item['version'])}</td>"
                    f"<td>{html.escape(state)}</td><td>{html.escape(tm(item.get('message') or ''))}</td></tr>")
    return f"<table class='mw-table mw-queue'><tr>{head}</tr>{''.join(rows)}</table>"


def item_label(item: dict[str, Any]) -> str:
    return f"{item['id']}: {item['project']} / {item['version']}"


def item_id(label: str | None) -> int | None:
    try:
        return int(str(label or "").split(":", 1)[0])
    except ValueError:
        return None


def queued_sweep(ui: Any, project: str, version: str, overrides: dict[str, Any]) -> SweepPlan | None:
    """Create and queue the sweep the form's values make, and run the queue; None when nothing varies."""
    if not split_settings(overrides)[1]:
        return None
    plan, _ = queue_of(ui).add_sweep(project, version, overrides)
    return plan


def sweep_started(plan: SweepPlan) -> str:
    return H.message(tf("{count} versions queued: {names}. They train one after another; the Queue below "
                        "follows them.", count=plan.count, names=", ".join(r.version for r in plan.runs)))


def build_sweep_line(ui: Any) -> None:
    """Under Start: how many versions the form's values make, and their names."""
    ui.c["sweep_plan"] = gr.HTML(elem_id="mw_train_sweep_plan")


def build_queue_section(ui: Any) -> None:
    """The Queue accordion (its Run queue button is wired by ``train_run``, which follows the training)."""
    c = ui.c
    with gr.Accordion(t("Queue"), open=True, elem_id="mw_train_queue_box"):
        c["queue_table"] = gr.HTML(queue_table(queue_of(ui).items()), elem_id="mw_train_queue")
        with gr.Row():
            c["queue_item"] = dropdown([], label=t("Queue item"), elem_id="mw_train_queue_item")
            c["queue_up"] = gr.Button(t("Up"), elem_id="mw_train_queue_up")
            c["queue_down"] = gr.Button(t("Down"), elem_id="mw_train_queue_down")
            c["queue_remove"] = gr.Button(t("Remove"), elem_id="mw_train_queue_remove")
            c["queue_run"] = gr.Button(t("Run queue"), elem_id="mw_train_queue_run")
            c["queue_compare"] = gr.Button(t("Compare these versions"), elem_id="mw_train_queue_compare")
        c["queue_status"] = gr.HTML(elem_id="mw_train_queue_status")

    ui.on_project(lambda _p, _v: queue_listing(ui), c["queue_table"], c["queue_item"])


def queue_listing(ui: Any, selected: int | None = None) -> dict:
    """The queue's table and the item chooser (keeping ``selected`` chosen)."""
    c = ui.c
    items = queue_of(ui).items()
    labels = [item_label(i) for i in items]
    chosen = next((label for label in labels if item_id(label) == selected), None)
    return {c["queue_table"]: queue_table(items), c["queue_item"]: gr.update(choices=labels, value=chosen)}


def plan_preview(ui: Any, project: str, version: str, overrides: dict[str, Any]) -> str:
    """The line under Start: how many versions the form's values make, and their names (or why not)."""
    if not split_settings(overrides)[1]:
        return ""
    plan, _ = queue_of(ui).plan(project, version, overrides)
    return H.message(plan.summary(), "notice")


def wire_queue(ui: Any, sweep_inputs: list[Any], parse: Any) -> None:
    """Wire the sweep line and the queue's buttons; ``parse(values)`` reads the form's values."""
    c = ui.c

    def listing(selected: int | None = None) -> dict:
        return queue_listing(ui, selected)

    def preview(project: str, version: str, *values: Any) -> dict:
        if not project or not version:
            return {c["sweep_plan"]: ""}
        try:
            return {c["sweep_plan"]: plan_preview(ui, project, version, parse(values))}
        except (projects.ProjectError, ValueError) as exc:
            return {c["sweep_plan"]: H.error(str(exc))}

    for component in sweep_inputs:
        component.change(preview, [c["project"], c["version"], *c["form"]], [c["sweep_plan"]], queue=False)

    def change(action: str, label: str | None) -> dict:
        chosen = item_id(label)
        if chosen is None:
            return {c["queue_status"]: H.error(t("Choose a queue item first."))}
        try:
            if action == "remove":
                queue_of(ui).remove(chosen)
            else:
                queue_of(ui).move(chosen, action)
        except QueueError as exc:
            return {**listing(), c["queue_status"]: H.error(str(exc))}
        return {**listing(None if action == "remove" else chosen), c["queue_status"]: ""}

    outputs = [c["queue_table"], c["queue_item"], c["queue_status"]]
    for action in ("up", "down", "remove"):
        c[f"queue_{action}"].click(lambda label, a=action: change(a, label), [c["queue_item"]], outputs)

    def choose_sweep(project: str) -> dict:
        versions = queue_of(ui).sweep_versions(project) if project else []
        if not versions:
            return {c["compare_versions"]: gr.update(value=[]),
                    c["queue_status"]: H.error(t("No sweep of this project has finished yet."))}
        try:
            choices = [v.name for v in projects.list_versions(ui.root, project) if v.checkpoints]
        except projects.ProjectError:
            choices = versions
        return {c["compare_versions"]: gr.update(choices=choices, value=versions),
                c["queue_status"]: H.message(tf("Comparing {count} versions; the grid appears on the Compare tab.",
                                                count=len(versions)))}

    run, inputs, outputs = compare_wiring(ui)

    def compare(project: str, versions: list[str], *rest: Any):
        if not versions:  # no finished sweep: choose_sweep said so
            yield {}
            return
        yield from run(project, versions, *rest)

    c["queue_compare"].click(choose_sweep, [c["project"]], [c["compare_versions"], c["queue_status"]]).then(
        compare, inputs, outputs, **long_job_kwargs())
