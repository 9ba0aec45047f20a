"""The Train Tools tab: projects, dataset, training, checkpoints, preview grids, compare, publish, and the
runs made in WebUI's own Train tab.

This module lays out the project bar and the sub-tabs with stable element ids (``mw_train_*``) and
manages projects and versions; each sub-tab's layout and handlers live in ``train_dataset``,
``train_run``, ``train_previews`` and ``train_outside``. The tab and the HTTP API share the host's one training
service, so a training started from either shows in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from model_workbench.host import StopFlag
from model_workbench.training import projects
from model_workbench.training.previews import PreviewService
from model_workbench.training.session import TrainingService, service_for
from model_workbench.training.webui_fields import KindFieldsError
from model_workbench.training.webui_previews import KindPreviewService
from model_workbench.training.webui_versions import create_kind_version
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown
from model_workbench.ui.context import UiContext
from model_workbench.ui.i18n import t, tf
from model_workbench.ui.train_kinds import (
    kind_choices,
    kind_from_choice,
    one_read,
    train_reason,
    unavailable_html,
)

Refresher = Callable[[str, str], dict]
DEFAULT_VERSION = "v1"


@dataclass
class TrainUi:
    """What the sub-tabs share: components by name, the services, and the project-change refreshers."""

    ctx: UiContext
    c: dict[str, Any] = field(default_factory=dict)
    refreshers: list[Refresher] = field(default_factory=list)
    refresh_targets: list[Any] = field(default_factory=list)
    preview_stop: StopFlag = field(default_factory=StopFlag)
    later: list[Callable[[], None]] = field(default_factory=list)  # wiring that needs every section built

    @property
    def root(self) -> Path:
        return self.ctx.host.data_dir()

    @property
    def training(self) -> TrainingService:
        return service_for(self.ctx.host)

    @property
    def previews(self) -> PreviewService:
        return PreviewService(self.ctx.host, is_training=self.training.is_running)

    @property
    def kind_previews(self) -> KindPreviewService:
        """Grids of embedding and hypernetwork steps (the same lock, progress and stop as LoRA's)."""
        return KindPreviewService(self.ctx.host, is_training=self.training.is_running)

    def on_project(self, refresher: Refresher, *targets: Any) -> None:
        """Register a refresher run whenever the project or version changes, and the components it updates."""
        self.refreshers.append(refresher)
        for target in targets:
            if target not in self.refresh_targets:
                self.refresh_targets.append(target)

    def refresh(self, project: str, version: str) -> dict:
        updates: dict = {}
        with one_read(self.root, project or "", version or ""):
            for refresher in self.refreshers:
                updates.update(refresher(project or "", version or ""))
        return updates


def on_page_load(fn: Callable[..., dict], inputs: list[Any], outputs: list[Any]) -> bool:
    """Run ``fn`` when the page loads, from inside a tab builder (which has no handle on its Blocks).

    gradio 3.41 and 4 both keep the Blocks being built in ``gradio.context.Context.root_block``, and
    WebUI copies a tab's events into its page when it renders the tab (the webui tier checks this).
    """
    from gradio.context import Context

    root = getattr(Context, "root_block", None)
    if root is None:
        return False
    root.load(fn, inputs, outputs)
    return True


def project_names(root: Path) -> list[str]:
    return [p.name for p in projects.list_projects(root)]


def version_names(root: Path, project: str) -> list[str]:
    if not project:
        return []
    try:
        return [v.name for v in projects.list_versions(root, project)]
    except projects.ProjectError:
        return []


def build_train_tab(ctx: UiContext) -> dict[str, gr.components.Component]:
    """Lay out the Train Tools tab in the current gradio context; returns its components by name."""
    from model_workbench.ui.train_dataset import build_dataset_tab
    from model_workbench.ui.train_outside import build_outside_tab
    from model_workbench.ui.train_previews import (
        build_checkpoints_tab,
        build_compare_tab,
        build_grid_tab,
        build_publish_tab,
    )
    from model_workbench.ui.train_run import build_run_tab

    ui = TrainUi(ctx)
    c = ui.c
    root = ui.root
    names = project_names(root)
    first = names[0] if names else None
    versions = version_names(root, first) if first else []
    c["host_notice"] = gr.HTML(ctx.training_notice_html(), elem_id="mw_train_notice")
    with gr.Row(elem_id="mw_train_project_row"):
        c["project"] = dropdown(names, value=first, label=t("Project"), elem_id="mw_train_project")
        c["version"] = dropdown(versions, value=versions[0] if versions else None, label=t("Version"),
                                elem_id="mw_train_version")
        c["new_project"] = gr.Textbox(label=t("New project name"), placeholder=t("for example: my_character"),
                                      elem_id="mw_train_new_project")
        c["create_project"] = gr.Button(t("Create project"), variant="primary", elem_id="mw_train_create_project")
    with gr.Accordion(t("Versions, renaming and deleting"), open=False, elem_id="mw_train_manage"):
        with gr.Row():
            c["new_version"] = gr.Textbox(label=t("New version name"), placeholder="v2", elem_id="mw_train_new_version")
            c["new_version_kind"] = gr.Radio(kind_choices(ctx.host), value=kind_choices(ctx.host)[0],
                                             label=t("What the version trains"), elem_id="mw_train_new_version_kind")
            c["create_version"] = gr.Button(t("Create version"), elem_id="mw_train_create_version")
        # A kind this host cannot train stays on offer above; here is why it cannot.
        c["kinds_unavailable"] = gr.HTML(unavailable_html(ctx.host), elem_id="mw_train_kinds_unavailable")
        with gr.Row():
            c["rename_to"] = gr.Textbox(label=t("New name"), elem_id="mw_train_rename_to")
            c["rename_project"] = gr.Button(t("Rename project"), elem_id="mw_train_rename_project")
            c["rename_version"] = gr.Button(t("Rename version"), elem_id="mw_train_rename_version")
        with gr.Row():
            c["confirm"] = gr.Textbox(label=t("Type the name again to confirm deleting"), elem_id="mw_train_confirm")
            c["delete_project"] = gr.Button(t("Delete project"), variant="stop", elem_id="mw_train_delete_project")
            c["delete_version"] = gr.Button(t("Delete version"), variant="stop", elem_id="mw_train_delete_version")
    c["project_status"] = gr.HTML(elem_id="mw_train_project_status")

    with gr.Tabs(elem_id="mw_train_tabs"):
        with gr.Tab(t("Dataset"), elem_id="mw_train_dataset_tab"):
            build_dataset_tab(ui)
        with gr.Tab(t("Train"), elem_id="mw_train_train_tab"):
            build_run_tab(ui)
        with gr.Tab(t("Checkpoints"), elem_id="mw_train_checkpoints_tab"):
            build_checkpoints_tab(ui)
        with gr.Tab(t("Preview grid"), elem_id="mw_train_grid_tab"):
            build_grid_tab(ui)
        with gr.Tab(t("Compare"), elem_id="mw_train_compare_tab"):
            build_compare_tab(ui)
        with gr.Tab(t("Publish"), elem_id="mw_train_publish_tab"):
            build_publish_tab(ui)
        with gr.Tab(t("Runs made outside the tab"), elem_id="mw_train_outside_tab"):
            build_outside_tab(ui)

    for wire in ui.later:
        wire()
    _wire_projects(ui)
    return c


def _wire_projects(ui: TrainUi) -> None:
    c = ui.c
    root = ui.root

    def selection(project: str | None, version: str | None, note: str | None = None) -> dict:
        names = project_names(root)
        project = project if project in names else (names[0] if names else None)
        versions = version_names(root, project) if project else []
        version = version if version in versions else (versions[0] if versions else None)
        updates = {c["project"]: gr.update(choices=names, value=project),
                   c["version"]: gr.update(choices=versions, value=version)}
        if note is None and not names:
            note = H.message(t("No projects yet: type a name above and click Create project."), "notice")
        if note is not None:  # a selection echoed back by gradio's change event keeps the last message
            updates[c["project_status"]] = note
        updates.update(ui.refresh(project or "", version or ""))
        return updates

    def fail(exc: Exception) -> dict:
        return {c["project_status"]: H.error(str(exc))}

    def create_project(name: str) -> dict:
        try:
            paths = projects.create_project(root, name)
            projects.create_version(root, paths.name, DEFAULT_VERSION, {})
        except projects.ProjectError as exc:
            return fail(exc)
        return {**selection(paths.name, DEFAULT_VERSION, H.message(tf(
            "Project {name} created with version {version}. Add images on the Dataset tab.",
            name=paths.name, version=DEFAULT_VERSION))), c["new_project"]: ""}

    def create_version(project: str, name: str, kind_label: str) -> dict:
        kind = kind_from_choice(ui.ctx.host, kind_label)
        refused = train_reason(ui.ctx.host, kind)
        if refused is not None:
            return fail(ValueError(refused))
        try:
            folder = create_kind_version(root, project or "", name, kind)
        except (projects.ProjectError, KindFieldsError) as exc:
            return fail(exc)
        return {**selection(project, folder.name, H.message(tf("Version {name} created.", name=folder.name))),
                c["new_version"]: ""}

    def rename_project(project: str, version: str, new: str) -> dict:
        if ui.training.is_running():
            return {c["project_status"]: H.error(t("Renaming waits until the training has finished."))}
        try:
            paths = projects.rename_project(root, project or "", new)
        except projects.ProjectError as exc:
            return fail(exc)
        return {**selection(paths.name, version, H.message(tf("Project renamed to {name}.", name=paths.name))),
                c["rename_to"]: ""}

    def rename_version(project: str, version: str, new: str) -> dict:
        if ui.training.is_running():
            return {c["project_status"]: H.error(t("Renaming waits until the training has finished."))}
        try:
            folder = projects.rename_version(root, project or "", version or "", new)
        except projects.ProjectError as exc:
            return fail(exc)
        return {**selection(project, folder.name, H.message(tf("Version renamed to {name}.", name=folder.name))),
                c["rename_to"]: ""}

    def delete_project(project: str, version: str, confirm: str) -> dict:
        if ui.training.is_running():
            return {c["project_status"]: H.error(t("Deleting waits until the training has finished."))}
        try:
            projects.delete_project(root, project or "", confirm)
        except projects.ProjectError as exc:
            return fail(exc)
        return {**selection(None, None, H.message(tf("Project {name} deleted.", name=project))), c["confirm"]: ""}

    def delete_version(project: str, version: str, confirm: str) -> dict:
        if ui.training.is_running():
            return {c["project_status"]: H.error(t("Deleting waits until the training has finished."))}
        try:
            projects.delete_version(root, project or "", version or "", confirm)
        except projects.ProjectError as exc:
            return fail(exc)
        return {**selection(project, None, H.message(tf("Version {name} deleted.", name=version))), c["confirm"]: ""}

    base = [c["project"], c["version"], c["project_status"], *ui.refresh_targets]
    c["create_project"].click(create_project, [c["new_project"]], base + [c["new_project"]])
    c["new_project"].submit(create_project, [c["new_project"]], base + [c["new_project"]])
    c["create_version"].click(create_version, [c["project"], c["new_version"], c["new_version_kind"]],
                              base + [c["new_version"]])
    c["rename_project"].click(rename_project, [c["project"], c["version"], c["rename_to"]], base + [c["rename_to"]])
    c["rename_version"].click(rename_version, [c["project"], c["version"], c["rename_to"]], base + [c["rename_to"]])
    c["delete_project"].click(delete_project, [c["project"], c["version"], c["confirm"]], base + [c["confirm"]])
    c["delete_version"].click(delete_version, [c["project"], c["version"], c["confirm"]], base + [c["confirm"]])
    c["project"].change(lambda p: selection(p, None), [c["project"]], base)
    c["version"].change(lambda p, v: ui.refresh(p, v), [c["project"], c["version"]], ui.refresh_targets)
    # Fill every section for the selected project when the page opens (projects may change between loads).
    on_page_load(lambda p, v: selection(p, v), [c["project"], c["version"]], base)
