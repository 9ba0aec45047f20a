"""The Train form's base model: which checkpoint the training uses, and another chosen from WebUI's list.

Choosing one loads it through the host (WebUI's own loader and progress) and saves it in the version's
config; the line beside it says what is loaded and what the version trains on. When a start finds the
version's base model is not loaded, :func:`switch_question` shows the question with a "Switch to … and
train" button (``train_run`` wires it).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from model_workbench.host import BaseCheckpoint, Host, HostFeatureUnavailable
from model_workbench.training import projects
from model_workbench.training.base_checkpoint import choose_base_model, saved_base_model
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown, long_job_kwargs
from model_workbench.ui.i18n import t, tf
from model_workbench.ui.train_kinds import version_config


def current_choice(host: Host, config: dict[str, Any]) -> BaseCheckpoint | None:
    """What the dropdown shows: the version's base model as WebUI lists it, else the loaded checkpoint."""
    saved = saved_base_model(config)
    listed = host.checkpoints()
    if saved is not None:
        return next((c for c in listed if saved.same_as(c)), saved)
    loaded = host.loaded_checkpoint()
    return next((c for c in listed if loaded is not None and loaded.same_as(c)), loaded)


def base_model_line(host: Host, config: dict[str, Any]) -> str:
    """One line: the checkpoint a training of this version uses, and whether it is the loaded one."""
    loaded = host.loaded_checkpoint()
    saved = saved_base_model(config)
    if loaded is None and not host.checkpoints():
        return H.message(t("There are no checkpoints to choose from here; choosing a base model needs "
                           "Stable Diffusion WebUI."), "notice")
    if saved is None or loaded is None:
        name = (saved or loaded).title if (saved or loaded) else ""
        return H.message(tf("The training uses the loaded checkpoint, {name}.", name=name))
    if saved.same_as(loaded):
        return H.message(tf("This version trains on {name}, the loaded checkpoint.", name=saved.title))
    return H.message(tf("This version trains on {wanted}, but {loaded} is loaded; starting the training asks to "
                        "switch.", wanted=saved.title, loaded=loaded.title), "notice")


def switch_question(text: str, checkpoint: BaseCheckpoint) -> tuple[str, dict[str, Any]]:
    """The notice and the button's update when a start needs another checkpoint loaded first."""
    return H.message(text, "notice"), gr.update(value=tf("Switch to {name} and train", name=checkpoint.title),
                                                visible=True)


def build_base_model_row(ui: Any) -> None:
    """The base model row above the form: the checkpoint dropdown, its button and the line."""
    c = ui.c
    host = ui.ctx.host
    with gr.Row(elem_id="mw_train_base_model_row"):
        c["base_model"] = dropdown([x.title for x in host.checkpoints()], value=None,
                                   label=t("Base model (checkpoint)"), elem_id="mw_train_base_model")
        c["use_base_model"] = gr.Button(t("Load and use for this version"), elem_id="mw_train_use_base_model")
    c["base_model_status"] = gr.HTML(elem_id="mw_train_base_model_status")

    def show(project: str, version: str, note: str = "") -> dict:
        config = version_config(ui.root, project, version)
        choice = current_choice(host, config)
        return {c["base_model"]: gr.update(choices=[x.title for x in host.checkpoints()],
                                           value=choice.title if choice else None),
                c["base_model_status"]: note + base_model_line(host, config)}

    ui.on_project(show, c["base_model"], c["base_model_status"])

    def use(project: str, version: str, title: str) -> dict:
        if not project or not version:
            return {c["base_model_status"]: H.error(t("Create or choose a project and a version first."))}
        if not title:
            return {c["base_model_status"]: H.error(t("Choose a checkpoint first."))}
        if ui.training.is_running():
            return {c["base_model_status"]: H.error(t("Switching the base model waits until the training has "
                                                      "finished."))}
        try:
            loaded = choose_base_model(host, ui.root, project, version, title)
        except (HostFeatureUnavailable, projects.ProjectError, ValueError, RuntimeError) as exc:
            return {c["base_model_status"]: H.error(str(exc))}
        return show(project, version, H.message(tf("{name} is loaded and saved as the base model of {version}.",
                                                   name=loaded.title, version=version)))

    c["use_base_model"].click(use, [c["project"], c["version"], c["base_model"]],
                              [c["base_model"], c["base_model_status"]], **long_job_kwargs())
