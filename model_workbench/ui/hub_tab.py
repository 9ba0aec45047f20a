"""The Hugging Face sub-tab of the Civitai tab: search the Hub (or a mirror), read a repo, install a file.

Laid out like the Search sub-tab and named ``mw_hf_*`` for the browser script and the tests; handlers
are in ``hub_handlers``, HTML in ``hub_views``. Installs go to the same download queue as Civitai's, so
the Downloads panel here and on the Search sub-tab show the same jobs.
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from model_workbench.ui.civitai_handlers import CivitaiHandlers
from model_workbench.ui.compat import dropdown, js_kwarg, long_job_kwargs
from model_workbench.ui.context import UiContext
from model_workbench.ui.hub_handlers import HubHandlers, install_kind_labels, kind_filter_labels, sort_labels
from model_workbench.ui.hub_views import hub_details_placeholder
from model_workbench.ui.i18n import t


def build_hub_tab(ctx: UiContext, downloads: CivitaiHandlers) -> dict[str, gr.components.Component]:
    """Lay out the sub-tab's contents in the current gradio context and wire them; returns its components."""
    c: dict[str, gr.components.Component] = {}
    handlers = HubHandlers(ctx, civitai_handlers=downloads)
    search_state, details_state = gr.State({}), gr.State({})
    with gr.Row(elem_id="mw_hf_search_row"):
        c["query"] = gr.Textbox(label=t("Search Hugging Face"), placeholder=t("Words, org/repo or a Hub link"),
                                elem_id="mw_hf_query", scale=5)
        c["search"] = gr.Button(t("Search"), variant="primary", elem_id="mw_hf_search_button", scale=1)
    with gr.Row(elem_id="mw_hf_filters"):
        c["sort"] = dropdown(sort_labels(), value=sort_labels()[0], label=t("Sort"), elem_id="mw_hf_sort")
        c["kind"] = dropdown(kind_filter_labels(), value=kind_filter_labels()[0], label=t("Kind"), elem_id="mw_hf_kind")
    with gr.Row(elem_id="mw_hf_main"):
        with gr.Column(scale=3, elem_id="mw_hf_results_column"):
            c["status"] = gr.HTML(elem_id="mw_hf_status")
            c["results"] = gr.HTML(elem_id="mw_hf_results")
            with gr.Row(elem_id="mw_hf_pager"):
                c["count"] = gr.HTML(elem_id="mw_hf_count")
                c["more"] = gr.Button(t("More"), elem_id="mw_hf_more", interactive=False)
        with gr.Column(scale=2, elem_id="mw_hf_side_column"):
            c["details"] = gr.HTML(hub_details_placeholder(), elem_id="mw_hf_details")
            with gr.Group(elem_id="mw_hf_install_box"):
                c["file"] = dropdown([], label=t("File"), type="index", elem_id="mw_hf_file")
                with gr.Row():
                    c["install_kind"] = dropdown(install_kind_labels(), value=install_kind_labels()[0],
                                                 label=t("Install as"), elem_id="mw_hf_install_kind")
                    c["subfolder"] = gr.Textbox(label=t("Subfolder"), placeholder=t("optional, e.g. styles"),
                                                elem_id="mw_hf_subfolder", max_lines=1)
                    c["filename"] = gr.Textbox(label=t("File name"), elem_id="mw_hf_filename", max_lines=1)
                c["install"] = gr.Button(t("Install"), variant="primary", elem_id="mw_hf_install")
            c["install_status"] = gr.HTML(elem_id="mw_hf_install_status")
            c["queue"] = gr.HTML(downloads.initial_queue, elem_id="mw_hf_queue")
            c["card"] = gr.HTML(elem_id="mw_hf_card")
    with gr.Row(elem_id="mw_hf_hidden"):  # driven by the cards' HTML (CSS hides the row)
        c["open_target"] = gr.Textbox(elem_id="mw_hf_open", show_label=False)
        c["open_button"] = gr.Button("open", elem_id="mw_hf_open_button")
        c["queue_target"] = gr.Textbox(elem_id="mw_hf_queue_action", show_label=False)
        c["queue_button"] = gr.Button("queue", elem_id="mw_hf_queue_action_button")
    _wire(c, handlers, search_state, details_state)
    return c


def _wire(c: dict, handlers: HubHandlers, search_state: gr.State, details_state: gr.State) -> None:
    long = long_job_kwargs()
    results = [c["status"], c["results"], c["count"], search_state, c["more"]]
    details_outputs = [c["details"], c["card"], c["file"], c["install_kind"], c["filename"], c["install_status"],
                       details_state]
    for trigger, direction in ((c["search"].click, "first"), (c["query"].submit, "first"), (c["more"].click, "more")):
        searched = trigger(partial(handlers.search, direction), inputs=[c["query"], c["sort"], c["kind"], search_state],
                           outputs=results, show_progress="full")
        searched.then(handlers.previews_after_search, inputs=[search_state], outputs=[c["results"]],
                      show_progress="hidden")
        searched.then(handlers.open_linked, inputs=[search_state, details_state],
                      outputs=[*details_outputs, c["open_target"]], show_progress="hidden")
    # Install is disabled while a repo loads (it would act on the one shown before), then enabled again.
    (c["open_button"].click(lambda: gr.update(interactive=False), inputs=None, outputs=[c["install"]], queue=False)
     .then(handlers.open_repo, inputs=[c["open_target"], details_state], outputs=details_outputs)
     .then(lambda: gr.update(interactive=True), inputs=None, outputs=[c["install"]], queue=False))
    c["file"].select(handlers.file_changed, inputs=[c["file"], c["subfolder"], details_state],
                     outputs=[c["install_kind"], c["filename"], c["install_status"]])
    where_inputs = [c["file"], c["install_kind"], c["subfolder"], c["filename"], details_state]
    c["install_kind"].change(handlers.where_changed, inputs=where_inputs, outputs=[c["filename"], c["install_status"]])
    for box in (c["subfolder"], c["filename"]):
        box.blur(handlers.where_changed, inputs=where_inputs, outputs=[c["filename"], c["install_status"]])
    refresh_cards = js_kwarg("() => { window.modelWorkbench && modelWorkbench.refreshExtraNetworks(); }")
    c["install"].click(handlers.install, inputs=[c["file"], c["install_kind"], c["subfolder"], c["filename"],
                                                 details_state, c["open_target"]],
                       outputs=[c["install_status"], c["queue"]], **long).then(None, None, None, **refresh_cards)
    c["queue_button"].click(handlers.queue_action, inputs=[c["queue_target"]], outputs=[c["queue"]], **long)
