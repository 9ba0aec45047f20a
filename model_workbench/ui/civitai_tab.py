"""The Civitai tab: search, model details, download queue and the local library.

This module lays the tab out and names every element (``mw_civitai_*``) so the browser script and
the tests can find it; the handlers live beside the features they drive.
"""

from __future__ import annotations

import gradio as gr

from model_workbench.ui.compat import dropdown
from model_workbench.ui.context import UiContext
from model_workbench.ui.i18n import t

MODEL_TYPES = ["Checkpoint", "LORA", "LoCon", "DoRA", "TextualInversion", "Hypernetwork", "VAE", "Controlnet",
               "Upscaler"]
SORTS = ["Highest Rated", "Most Downloaded", "Newest"]
PERIODS = ["AllTime", "Year", "Month", "Week", "Day"]


def build_civitai_tab(ctx: UiContext) -> dict[str, gr.components.Component]:
    """Lay out the Civitai tab in the current gradio context; returns its components by name."""
    c: dict[str, gr.components.Component] = {}
    with gr.Tabs(elem_id="mw_civitai_tabs"):
        with gr.Tab(t("Search"), elem_id="mw_civitai_search_tab"):
            with gr.Row(elem_id="mw_civitai_search_row"):
                c["query"] = gr.Textbox(label=t("Search Civitai"), placeholder=t("Model name, tag or creator"),
                                        elem_id="mw_civitai_query", scale=4)
                c["search"] = gr.Button(t("Search"), variant="primary", elem_id="mw_civitai_search_button", scale=1)
            with gr.Accordion(t("Filters"), open=False, elem_id="mw_civitai_filters"):
                with gr.Row():
                    c["types"] = gr.CheckboxGroup(MODEL_TYPES, label=t("Types"), elem_id="mw_civitai_types")
                with gr.Row():
                    c["base_models"] = dropdown([], label=t("Base model"), multiselect=True,
                                                elem_id="mw_civitai_base_models")
                    c["sort"] = dropdown(SORTS, value=SORTS[0], label=t("Sort"), elem_id="mw_civitai_sort")
                    c["period"] = dropdown(PERIODS, value=PERIODS[0], label=t("Period"), elem_id="mw_civitai_period")
                    c["hide_installed"] = gr.Checkbox(label=t("Hide installed"), elem_id="mw_civitai_hide_installed")
            c["status"] = gr.HTML(elem_id="mw_civitai_status")
            c["results"] = gr.HTML(elem_id="mw_civitai_results")
            with gr.Row(elem_id="mw_civitai_pager"):
                c["back"] = gr.Button(t("Back"), elem_id="mw_civitai_back")
                c["page_label"] = gr.HTML(elem_id="mw_civitai_page_label")
                c["next"] = gr.Button(t("Next"), elem_id="mw_civitai_next")
            c["details"] = gr.HTML(elem_id="mw_civitai_details")
        with gr.Tab(t("Downloads"), elem_id="mw_civitai_downloads_tab"):
            c["queue"] = gr.HTML(elem_id="mw_civitai_queue")
        with gr.Tab(t("Library"), elem_id="mw_civitai_library_tab"):
            with gr.Row():
                c["scan"] = gr.Button(t("Scan model folders"), variant="primary", elem_id="mw_library_scan")
                c["match"] = gr.Button(t("Match on Civitai"), elem_id="mw_library_match")
            c["library_status"] = gr.HTML(elem_id="mw_library_status")
            c["library"] = gr.HTML(elem_id="mw_library_table")
            with gr.Accordion(t("Model folders"), open=False):
                c["folders"] = gr.HTML(ctx.folders_html(), elem_id="mw_library_folders")
    return c
