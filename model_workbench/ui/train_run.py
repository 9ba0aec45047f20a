"""The Train sub-tab: presets, the parameter form, sample settings, Start / Stop / Resume, progress,
the live loss plot and the log. Training runs in the host's shared service; the handlers follow it."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import gradio as gr

from model_workbench.host import HostFeatureUnavailable, ModelKind
from model_workbench.training import projects
from model_workbench.training.base_checkpoint import BaseModelMismatch
from model_workbench.training.continue_from import lora_files
from model_workbench.training.presets import preset_names, preset_values
from model_workbench.training.session import TrainingBusy
from model_workbench.training.sweep import is_sweepable
from model_workbench.training.webui_fields import KindFieldsError, stored_fields
from model_workbench.training.webui_kinds import VersionKind
from model_workbench.training.webui_versions import save_kind_settings
from model_workbench.ui import train_after_preview as after
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown, long_job_kwargs
from model_workbench.ui.i18n import t, tf
from model_workbench.ui.train_base_model import build_base_model_row, switch_question
from model_workbench.ui.train_form import (
    all_fields,
    component_for,
    default_values,
    form_groups,
    parse_values,
    sample_fields,
    values_for,
)
from model_workbench.ui.train_kinds import config_kind, version_config, version_kind
from model_workbench.ui.train_queue import (
    build_queue_section,
    build_sweep_line,
    queue_of,
    queue_table,
    queued_sweep,
    sweep_started,
    wire_queue,
)
from model_workbench.ui.train_webui_form import (
    build_webui_form,
    form_data,
    form_updates,
    start_label,
    value_components,
)

POLL_S = 1.0


def build_run_tab(ui: Any) -> None:
    c = ui.c
    root = ui.root
    defaults = default_values()
    build_base_model_row(ui)  # the checkpoint the training uses (issue 14: base model); every kind has one
    fields = all_fields()
    inputs = []

    def lora_choices() -> list[str]:
        """The LoRA files of the host's LoRA folders, for "Continue from LoRA"."""
        return [str(path) for path in lora_files(ui.ctx.host.model_folders().get(ModelKind.LORA, []))]

    # A LoRA version's form (kohya's names) and an embedding's or hypernetwork's (WebUI's own fields):
    # the selected version's kind shows one of them.
    with gr.Column(elem_id="mw_train_lora_form") as c["lora_form"]:
        with gr.Row():
            c["preset"] = dropdown(preset_names(), value=None, label=t("Preset"), elem_id="mw_train_preset")
            c["apply_preset"] = gr.Button(t("Apply preset"), elem_id="mw_train_apply_preset")
        for title, group in form_groups():
            with gr.Accordion(title, open=title == form_groups()[0][0]), gr.Row():
                for field in group:
                    if field.kind == "lora_file":
                        field = dataclasses.replace(field, choices=tuple(lora_choices()))
                    inputs.append(component_for(field, defaults.get(field.name)))
        with gr.Row():
            for field in sample_fields():
                inputs.append(component_for(field, defaults.get(field.name)))
        after_inputs = after.build_after_preview_group(ui)  # "Preview when done": kept in the version's config
    c["form"] = inputs
    templates = ui.ctx.host.prompt_templates()
    with gr.Column(visible=False, elem_id="mw_train_webui_form") as c["webui_form"]:
        webui = build_webui_form(templates)
    c["webui"] = webui
    webui_inputs = value_components(webui)
    c["form_status"] = gr.HTML(elem_id="mw_train_form_status")
    # Where the host cannot train at all, Start and Resume are not offered; the reason stands beside them.
    able = ui.ctx.host.capabilities().can_train
    with gr.Row():
        c["start"] = gr.Button(t("Start training"), variant="primary" if able else "secondary",
                               interactive=able, elem_id="mw_train_start")
        c["stop"] = gr.Button(t("Stop"), variant="stop", elem_id="mw_train_stop")
        c["resume"] = gr.Button(t("Resume"), interactive=able, elem_id="mw_train_resume")
        c["watch"] = gr.Button(t("Refresh status"), elem_id="mw_train_watch")
        # Shown when a start finds another checkpoint loaded than the version's base model.
        c["switch_train"] = gr.Button(t("Switch and train"), variant="primary", visible=False,
                                      elem_id="mw_train_switch_train")
    build_sweep_line(ui)
    if not able:
        # Said beside Start unless the host notice at the top already says these very words.
        reason = ui.ctx.host.training_refusal() or ""
        shown = "" if reason in ui.ctx.host.capabilities().notes else reason
        c["unavailable"] = gr.HTML(H.message(shown, "notice"), elem_id="mw_train_unavailable")
    c["progress"] = gr.HTML(H.progress_html(ui.training.status()), elem_id="mw_train_progress")
    c["loss_plot"] = gr.HTML(H.loss_svg(ui.training.losses()), elem_id="mw_train_loss")
    c["samples"] = gr.Gallery(label=t("Sample images"), elem_id="mw_train_samples", **_gallery_kwargs())
    after.build_after_preview_result(ui)
    c["train_log"] = gr.Textbox(label=t("Log"), lines=8, max_lines=8, interactive=False, elem_id="mw_train_log")
    build_queue_section(ui)

    def load_form(project: str, version: str) -> dict:
        config = version_config(root, project, version)
        kind = config_kind(config)
        if kind is not VersionKind.LORA:
            return kind_form(config, kind)
        out = dict(zip(inputs, values_for(fields, config), strict=True))
        for field, component in zip(fields, inputs, strict=True):
            if field.kind == "lora_file":  # LoRAs added since the page was built are offered too
                out[component] = gr.update(choices=lora_choices(), value=out[component])
        out.update(kind_form(config, kind))
        return out

    def kind_form(config: dict, kind: VersionKind) -> dict:
        """Which form shows, the buttons in the kind's words, and an embedding's or hypernetwork's values."""
        try:
            stored = stored_fields(config) if kind is not VersionKind.LORA else None
            note = ""
        except KindFieldsError as exc:  # a hand-edited config: say what is wrong, show WebUI's defaults
            stored, note = None, H.error(str(exc))
        lora = kind is VersionKind.LORA
        out = {c["lora_form"]: gr.update(visible=lora), c["webui_form"]: gr.update(visible=not lora),
               c["start"]: gr.update(value=start_label(kind)),
               c["stop"]: gr.update(value=t("Stop") if lora else t("Interrupt")),
               c["resume"]: gr.update(visible=lora), **form_updates(webui, kind, stored),
               # WebUI's trainers report steps, not our loss curve or sample images: nothing to show there
               c["loss_plot"]: gr.update(visible=lora), c["samples"]: gr.update(visible=lora)}
        if note:
            out[c["form_status"]] = note
        return out

    ui.on_project(load_form, *inputs, c["lora_form"], c["webui_form"], c["start"], c["stop"], c["resume"],
                  c["form_status"], c["loss_plot"], c["samples"], webui["embedding_group"], webui["hypernetwork_group"], *webui_inputs)

    def samples(project: str, version: str) -> list[tuple[str, str]]:
        """The version's sample images, newest epoch first, captioned with their file names."""
        if not project or not version:
            return []
        try:
            paths = projects.project_paths(root, project)
            prefix = projects.output_name(paths.name, version) + "-"
        except projects.ProjectError:
            return []
        files = sorted(paths.samples.glob(prefix + "*.png"), reverse=True) if paths.samples.is_dir() else []
        return [(str(f), f.stem[len(prefix):]) for f in files[:24]]

    ui.on_project(lambda p, v: {c["samples"]: samples(p, v)}, c["samples"])

    def shown_run(project: str, version: str) -> dict:
        """The selected version's run as it really is (on page load too): running, or how its last run
        ended, read from disk after a restart."""
        lora = version_kind(root, project, version) is VersionKind.LORA  # WebUI's trainers plot no loss here
        return {c["progress"]: H.progress_html(ui.training.status_for(project, version)),
                c["loss_plot"]: gr.update(value=H.loss_svg(ui.training.losses()), visible=lora),
                c["train_log"]: "\n".join(ui.training.log_for(project, 200))}

    ui.on_project(shown_run, c["progress"], c["loss_plot"], c["train_log"])

    def apply_preset(name: str, *values: Any) -> dict:
        if not name:
            return {c["form_status"]: H.error(t("Choose a preset first."))}
        current = {f.name: v for f, v in zip(fields, values, strict=True)}
        preset = preset_values(name)
        updated = [values_for([f], preset)[0] if f.name in preset else current[f.name] for f in fields]
        return {**dict(zip(inputs, updated, strict=True)),
                c["form_status"]: H.message(tf("Preset {name} applied; adjust anything, then start.", name=name))}

    def view(extra: dict | None = None) -> dict:
        status = ui.training.status()
        out = {c["progress"]: H.progress_html(status), c["loss_plot"]: H.loss_svg(ui.training.losses()),
               c["train_log"]: "\n".join(ui.training.log_lines(200)),
               c["queue_table"]: queue_table(queue_of(ui).items())}
        if status.get("samples"):
            out[c["samples"]] = samples(status["project"], status["version"])
        out.update(after.after_view(ui, status, grid_tab=True))
        out.update(extra or {})
        return out

    def follow(project: str, version: str):
        """Yield the view every second while the training runs, then refresh the project's views."""
        while ui.training.is_running() or queue_of(ui).is_active():  # a queue goes on to its next item
            yield view()
            time.sleep(POLL_S)
        status = ui.training.status()
        # The run's end replaces "Training started": no line of an earlier action stays beside "Finished".
        ended = {c["form_status"]: ""}
        if status.get("project") == project:
            # The selected version's views (after a queue, the last run was another version).
            ended.update(ui.refresh(project, version or status.get("version") or ""))
        yield view(ended)

    def start(project: str, version: str, resume: bool, values: tuple, after_values: tuple, webui_values: tuple,
              switch: bool = False) -> Any:
        hidden = {c["switch_train"]: gr.update(visible=False)}
        if not project or not version:
            yield view({c["form_status"]: H.error(t("Create or choose a project and a version first.")), **hidden})
            return
        try:
            kind = version_kind(root, project, version)
            if kind is not VersionKind.LORA:  # the form's fields, checked and kept with the version, then run
                save_kind_settings(root, project, version, form_data(kind, list(webui_values)), templates)
                overrides, plan = {}, None
            else:
                overrides = after.with_after_settings(parse_values(fields, list(values)), after_values)
                plan = None if resume else queued_sweep(ui, project, version, overrides)  # several values: a sweep
            if plan is None:
                ui.training.start(project, version, overrides, resume=resume, switch_base_model=switch)
        except BaseModelMismatch as exc:  # ask, with a button that switches and starts
            notice, button = switch_question(str(exc), exc.checkpoint)
            yield view({c["form_status"]: notice, c["switch_train"]: button})
            return
        except (TrainingBusy, HostFeatureUnavailable, projects.ProjectError, ValueError) as exc:  # KindFieldsError too
            yield view({c["form_status"]: H.error(str(exc)), **hidden})
            return
        if plan is not None:
            yield view({c["form_status"]: sweep_started(plan), c["sweep_plan"]: "", c["project_status"]: "",
                        c["version"]: gr.update(choices=[v.name for v in projects.list_versions(root, project)])})
            yield from follow(project, version)
            return
        yield view({c["form_status"]: H.message(
            t("Training resumed.") if resume else t("Training started. Checkpoints appear on the Checkpoints tab.")),
            c["project_status"]: "", **hidden})  # "Project … created. Add images…" is done with once a training runs
        yield from follow(project, version)

    def parts(values: tuple) -> tuple[tuple, tuple, tuple]:
        """The run inputs' values: the LoRA form, "Preview when done", the embedding/hypernetwork form."""
        lora_end, after_end = len(fields), len(fields) + len(after_inputs)
        return values[:lora_end], values[lora_end:after_end], values[after_end:]

    def start_new(project: str, version: str, *values: Any):
        yield from start(project, version, False, *parts(values))

    def resume(project: str, version: str, *values: Any):
        yield from start(project, version, True, *parts(values))

    def switch_and_start(project: str, version: str, *values: Any):
        yield from start(project, version, False, *parts(values), switch=True)

    def run_queue(project: str, version: str):
        started = queue_of(ui).start()
        yield view({c["form_status"]: H.message(t("The queue runs.") if started else
                                                t("Nothing is waiting in the queue."), "ok" if started else "notice")})
        yield from follow(project, version)

    def stop() -> dict:
        stopping = ui.training.stop()
        return {c["form_status"]: H.message(t("Stopping after the current step; finished epochs are kept.")
                                            if stopping else t("No training is running."), "notice")}

    def wire() -> None:  # after every section exists: a finished training refreshes them all
        own = [c["progress"], c["loss_plot"], c["train_log"], c["form_status"], c["samples"], c["project_status"],
               *after.after_outputs(c), *after.grid_tab_outputs(c), c["switch_train"], c["sweep_plan"],
               c["queue_table"], c["version"]]
        outputs = own + [x for x in ui.refresh_targets if x not in own]
        c["apply_preset"].click(apply_preset, [c["preset"], *inputs], [*inputs, c["form_status"]])
        run_inputs = [c["project"], c["version"], *inputs, *after_inputs, *webui_inputs]
        c["start"].click(start_new, run_inputs, outputs, **long_job_kwargs())
        c["resume"].click(resume, run_inputs, outputs, **long_job_kwargs())
        c["switch_train"].click(switch_and_start, run_inputs, outputs, **long_job_kwargs())
        c["watch"].click(follow, [c["project"], c["version"]], outputs, **long_job_kwargs())
        c["stop"].click(stop, None, [c["form_status"]], queue=False)
        c["queue_run"].click(run_queue, [c["project"], c["version"]], outputs, **long_job_kwargs())
        sweepable = [i for f, i in zip(fields, inputs, strict=True) if is_sweepable(f.name)]
        wire_queue(ui, sweepable, lambda values: parse_values(fields, list(values)))

    ui.later.append(wire)


def _gallery_kwargs() -> dict[str, Any]:
    """A compact strip of thumbnails (both gradio 3.41 and 4 take these keywords)."""
    return {"columns": 8, "height": 180, "allow_preview": True}
