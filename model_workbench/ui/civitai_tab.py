"""The Civitai tab: search, model details, download queue, the Hugging Face sub-tab and the local library.

This module lays the tab out and names every element (``mw_civitai_*``, ``mw_library_*``) so the
browser script and the tests can find it; the handlers are in ``civitai_handlers``, the HTML in
``civitai_views``/``civitai_queue_view``/``library_views``. Cards, version chips and queue buttons
are plain HTML: their clicks fill a hidden textbox and press a hidden button (javascript/model_workbench.js).
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from model_workbench.civitai.enums import PERIODS, SORTS, fallback_enums
from model_workbench.civitai.types import Enums
from model_workbench.civitai_service import service_for
from model_workbench.ui.civitai_handlers import NSFW_CHOICES, CivitaiHandlers, nsfw_choice
from model_workbench.ui.civitai_views import details_placeholder
from model_workbench.ui.compat import dropdown, js_kwarg, long_job_kwargs
from model_workbench.ui.context import UiContext
from model_workbench.ui.hub_tab import build_hub_tab
from model_workbench.ui.i18n import choice_labels, t

# The types people look for most, first; then every other type Civitai's /enums lists, in its order.
COMMON_TYPES = ["Checkpoint", "LORA", "LoCon", "DoRA", "TextualInversion", "Hypernetwork", "VAE", "Controlnet",
                "Upscaler", "MotionModule"]


def type_choices(enums: Enums) -> list[str]:
    """The Types filter: every model type Civitai lists (the common ones first)."""
    listed = list(enums.model_types) or fallback_enums().model_types
    return [t for t in COMMON_TYPES if t in listed] + [t for t in listed if t not in COMMON_TYPES]


def _enums(ctx: UiContext) -> Enums:
    """The enums saved by an earlier search, else the built-in list (no network while the UI is built)."""
    try:
        return service_for(ctx.host).client().saved_enums() or fallback_enums()
    except Exception:  # noqa: BLE001 - a broken cache must not stop the tab from building
        return fallback_enums()


def build_civitai_tab(ctx: UiContext) -> dict[str, gr.components.Component]:
    """Lay out the Civitai tab in the current gradio context and wire its events; returns its components."""
    c: dict[str, gr.components.Component] = {}
    enums = _enums(ctx)
    base_models = list(enums.base_models)
    handlers = CivitaiHandlers(ctx, base_model_choices=base_models)
    handlers.service.queue  # noqa: B018 - created now: resumes partial downloads left by the last run
    nsfw_default = nsfw_choice(ctx.host.settings().nsfw_level)
    search_state = gr.State({})
    details_state = gr.State({})
    with gr.Tabs(elem_id="mw_civitai_tabs"):
        with gr.Tab(t("Search"), elem_id="mw_civitai_search_tab"):
            with gr.Row(elem_id="mw_civitai_search_row"):
                c["query"] = gr.Textbox(label=t("Search Civitai"), placeholder=t("Model name, #tag, @creator or a Civitai link"),
                                        elem_id="mw_civitai_query", scale=5)
                c["search"] = gr.Button(t("Search"), variant="primary", elem_id="mw_civitai_search_button", scale=1)
            with gr.Row(elem_id="mw_civitai_filters"):
                c["types"] = dropdown(type_choices(enums), value=[], label=t("Types"), multiselect=True,
                                      elem_id="mw_civitai_types")
                c["base_models"] = dropdown(base_models, value=[], label=t("Base model"), multiselect=True,
                                            elem_id="mw_civitai_base_models")
                c["sort"] = dropdown(choice_labels(SORTS), value=t(SORTS[0]), label=t("Sort"), elem_id="mw_civitai_sort")
                c["period"] = dropdown(choice_labels(PERIODS), value=t(PERIODS[0]), label=t("Period"),
                                       elem_id="mw_civitai_period")
                c["nsfw"] = dropdown(NSFW_CHOICES, value=nsfw_default, label=t("Content level"),
                                     elem_id="mw_civitai_nsfw")
                c["hide_installed"] = gr.Checkbox(label=t("Hide installed"), elem_id="mw_civitai_hide_installed")
            with gr.Row(elem_id="mw_civitai_main"):
                with gr.Column(scale=3, elem_id="mw_civitai_results_column"):
                    c["status"] = gr.HTML(elem_id="mw_civitai_status")
                    c["results"] = gr.HTML(elem_id="mw_civitai_results")
                    with gr.Row(elem_id="mw_civitai_pager"):
                        c["back"] = gr.Button(t("Back"), elem_id="mw_civitai_back", interactive=False)
                        c["page_label"] = gr.HTML(elem_id="mw_civitai_page_label")
                        c["next"] = gr.Button(t("Next"), elem_id="mw_civitai_next", interactive=False)
                with gr.Column(scale=2, elem_id="mw_civitai_side_column"):
                    c["details"] = gr.HTML(details_placeholder(), elem_id="mw_civitai_details")
                    with gr.Group(elem_id="mw_civitai_download_box"):
                        c["file"] = dropdown([], label=t("File"), type="index", elem_id="mw_civitai_file")
                        with gr.Row():
                            c["subfolder"] = gr.Textbox(label=t("Subfolder"), placeholder=t("optional, e.g. styles"),
                                                        elem_id="mw_civitai_subfolder", max_lines=1)
                            c["filename"] = gr.Textbox(label=t("File name"), elem_id="mw_civitai_filename",
                                                       max_lines=1)
                        c["download"] = gr.Button(t("Download"), variant="primary", elem_id="mw_civitai_download")
                    c["download_status"] = gr.HTML(elem_id="mw_civitai_download_status")
                    c["queue"] = gr.HTML(handlers.initial_queue, elem_id="mw_civitai_queue")  # fresh on every page load
                    c["queue_refresh"] = gr.Button(t("Refresh downloads"), size="sm",
                                                   elem_id="mw_civitai_queue_refresh")
                    c["details_more"] = gr.HTML(elem_id="mw_civitai_details_more")
            # Hidden controls the HTML drives (CSS hides the row; gradio 4 leaves invisible components out of the page).
            with gr.Row(elem_id="mw_civitai_hidden"):
                c["open_target"] = gr.Textbox(elem_id="mw_civitai_open", show_label=False)
                c["open_button"] = gr.Button("open", elem_id="mw_civitai_open_button")
                c["queue_target"] = gr.Textbox(elem_id="mw_civitai_queue_action", show_label=False)
                c["queue_button"] = gr.Button("queue", elem_id="mw_civitai_queue_action_button")
        with gr.Tab(t("Hugging Face"), elem_id="mw_hf_tab"):
            c.update({f"hf_{name}": component for name, component in build_hub_tab(ctx, handlers).items()})
        with gr.Tab(t("Library"), elem_id="mw_civitai_library_tab"):
            with gr.Row():
                c["scan"] = gr.Button(t("Scan model folders"), variant="primary", elem_id="mw_library_scan")
                c["match"] = gr.Button(t("Match on Civitai"), elem_id="mw_library_match")
                c["cancel_scan"] = gr.Button(t("Stop"), elem_id="mw_library_cancel")
            c["library_help"] = gr.HTML(
                "<div class='mw-muted'>" + t("Scan lists every model in WebUI's folders, hashes new files in the "
                                             "background (unchanged files are never read twice), finds them on "
                                             "Civitai and adds missing previews and info files. Your own files are "
                                             "never overwritten.") + "</div>",
                elem_id="mw_library_help")
            c["library_status"] = gr.HTML(elem_id="mw_library_status")
            c["library"] = gr.HTML(handlers.library_table, elem_id="mw_library_table")
            with gr.Accordion(t("Model folders"), open=False):
                c["folders"] = gr.HTML(ctx.folders_html(), elem_id="mw_library_folders")

    _wire(c, handlers, search_state, details_state)
    return c


def _wire(c: dict, handlers: CivitaiHandlers, search_state: gr.State, details_state: gr.State) -> None:
    long = long_job_kwargs()
    filters = [c["query"], c["types"], c["base_models"], c["sort"], c["period"], c["nsfw"], c["hide_installed"],
               search_state]
    results = [c["status"], c["results"], c["page_label"], search_state, c["back"], c["next"]]
    details_outputs = [c["details"], c["details_more"], c["file"], c["subfolder"], c["filename"], c["download_status"], details_state]
    for trigger, direction in ((c["search"].click, "first"), (c["query"].submit, "first"),
                               (c["next"].click, "next"), (c["back"].click, "back")):
        # The busy state shows on the results; the base-model list follows quietly (see the handler), and a
        # pasted model link opens that model's details.
        searched = trigger(partial(handlers.search, direction), inputs=filters, outputs=results, show_progress="full")
        searched.then(handlers.base_models_after_search, inputs=[c["base_models"], search_state],
                      outputs=[c["base_models"]], show_progress="hidden")
        searched.then(handlers.open_linked, inputs=[search_state, details_state],
                      outputs=[*details_outputs, c["open_target"]],
                      show_progress="hidden")

    # Download is disabled while details load (it would act on the model shown before), then enabled again.
    (c["open_button"].click(lambda: gr.update(interactive=False), inputs=None, outputs=[c["download"]], queue=False)
     .then(handlers.open_model, inputs=[c["open_target"], details_state], outputs=details_outputs)
     .then(lambda: gr.update(interactive=True), inputs=None, outputs=[c["download"]], queue=False))
    c["file"].select(handlers.file_changed, inputs=[c["file"], c["subfolder"], details_state],
                     outputs=[c["filename"], c["download_status"]])
    where_inputs = [c["file"], c["subfolder"], c["filename"], details_state]
    for box in (c["subfolder"], c["filename"]):
        box.blur(handlers.where_changed, inputs=where_inputs, outputs=[c["filename"], c["download_status"]])
    refresh_cards = js_kwarg("() => { window.modelWorkbench && modelWorkbench.refreshExtraNetworks(); }")
    c["download"].click(handlers.download, inputs=[c["file"], c["subfolder"], c["filename"], details_state,
                                                   c["open_target"]],
                        outputs=[c["download_status"], c["queue"]], **long).then(None, None, None, **refresh_cards)
    c["queue_button"].click(handlers.queue_action, inputs=[c["queue_target"]], outputs=[c["queue"]], **long)
    c["queue_refresh"].click(partial(handlers.queue_action, "refresh"), inputs=None, outputs=[c["queue"]], **long)

    library_outputs = [c["library_status"], c["library"]]
    c["scan"].click(handlers.library_scan, inputs=None, outputs=library_outputs, **long)
    c["match"].click(partial(handlers.library_scan, True), inputs=None, outputs=library_outputs, **long)
    c["cancel_scan"].click(handlers.library_cancel, inputs=None, outputs=[c["library_status"]], queue=False)
