"""The Train Tools tab: projects, dataset, training, checkpoints, preview grids, compare, publish.

Laid out here with stable element ids (``mw_train_*``); each section's handlers live beside the
feature they drive.
"""

from __future__ import annotations

import gradio as gr

from model_workbench.ui.compat import dropdown
from model_workbench.ui.context import UiContext
from model_workbench.ui.i18n import t


def build_train_tab(ctx: UiContext) -> dict[str, gr.components.Component]:
    """Lay out the Train Tools tab in the current gradio context; returns its components by name."""
    c: dict[str, gr.components.Component] = {}
    c["host_notice"] = gr.HTML(ctx.training_notice_html(), elem_id="mw_train_notice")
    with gr.Row(elem_id="mw_train_project_row"):
        c["project"] = dropdown([], label=t("Project"), elem_id="mw_train_project")
        c["version"] = dropdown([], label=t("Version"), elem_id="mw_train_version")
        c["new_project"] = gr.Textbox(label=t("New project name"), elem_id="mw_train_new_project")
        c["create_project"] = gr.Button(t("Create project"), elem_id="mw_train_create_project")
    with gr.Tabs(elem_id="mw_train_tabs"):
        with gr.Tab(t("Dataset"), elem_id="mw_train_dataset_tab"):
            c["upload"] = gr.File(label=t("Add images"), file_count="multiple", elem_id="mw_train_upload")
            c["dataset"] = gr.Gallery(label=t("Images and captions"), elem_id="mw_train_gallery")
        with gr.Tab(t("Train"), elem_id="mw_train_train_tab"):
            with gr.Row():
                c["start"] = gr.Button(t("Start training"), variant="primary", elem_id="mw_train_start")
                c["stop"] = gr.Button(t("Stop"), elem_id="mw_train_stop")
            c["train_log"] = gr.HTML(elem_id="mw_train_log")
        with gr.Tab(t("Checkpoints"), elem_id="mw_train_checkpoints_tab"):
            c["checkpoints"] = gr.HTML(elem_id="mw_train_checkpoints")
        with gr.Tab(t("Preview grid"), elem_id="mw_train_grid_tab"):
            c["weights"] = gr.Textbox(label=t("LoRA weights"), value="0.6, 0.8, 1.0", elem_id="mw_train_weights")
            c["grid_prompt"] = gr.Textbox(label=t("Prompt"), lines=2, elem_id="mw_train_grid_prompt")
            c["grid_seed"] = gr.Number(label=t("Seed"), value=1234, precision=0, elem_id="mw_train_grid_seed")
            c["grid_run"] = gr.Button(t("Preview all (same seed)"), variant="primary", elem_id="mw_train_grid_run")
            c["grid_image"] = gr.Image(label=t("Grid"), interactive=False, elem_id="mw_train_grid_image")
        with gr.Tab(t("Compare"), elem_id="mw_train_compare_tab"):
            c["compare_versions"] = dropdown([], label=t("Versions to compare"), multiselect=True,
                                             elem_id="mw_train_compare_versions")
            c["compare_run"] = gr.Button(t("Compare"), elem_id="mw_train_compare_run")
            c["compare_image"] = gr.Image(label=t("Side by side"), interactive=False, elem_id="mw_train_compare_image")
        with gr.Tab(t("Publish"), elem_id="mw_train_publish_tab"):
            c["publish_checkpoint"] = dropdown([], label=t("Checkpoint"), elem_id="mw_train_publish_checkpoint")
            c["publish"] = gr.Button(t("Publish to the LoRA folder"), elem_id="mw_train_publish")
            c["publish_status"] = gr.HTML(elem_id="mw_train_publish_status")
    return c
