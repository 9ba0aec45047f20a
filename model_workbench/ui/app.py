"""Assemble the tabs: for WebUI (one gr.Blocks per tab) or as the standalone app (one page)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr

from model_workbench.host import Host
from model_workbench.ui.civitai_tab import build_civitai_tab
from model_workbench.ui.compat import IS_GRADIO_4, js_kwarg
from model_workbench.ui.context import UiContext
from model_workbench.ui.i18n import language_if_available, set_language, t
from model_workbench.ui.settings_tab import build_settings_tab
from model_workbench.ui.train_tab import build_train_tab

ROOT = Path(__file__).resolve().parents[2]

# (title, elem_id, builder). WebUI orders and hides tabs by title, so titles never change.
TABS: tuple[tuple[str, str, Callable[[UiContext], object]], ...] = (
    ("Civitai", "model_workbench_civitai", build_civitai_tab),
    ("Train Tools", "model_workbench_train", build_train_tab),
)


def build_webui_tabs(host: Host, runtime_language: str = "") -> list[tuple[gr.Blocks, str, str]]:
    """The tabs as WebUI's ``on_ui_tabs`` wants them: ``(blocks, title, elem_id)``.

    Built in English, which WebUI's script translates on the page; ``runtime_language`` (WebUI's
    localisation setting) then translates what handlers say, which that script cannot match.
    """
    set_language("")
    ctx = UiContext(host=host)
    tabs = []
    for title, elem_id, builder in TABS:
        with gr.Blocks(analytics_enabled=False) as blocks:
            builder(ctx)
        tabs.append((blocks, title, elem_id))
    set_language(language_if_available(runtime_language))
    return tabs


def _browser_script() -> str:
    """Our javascript/ files as one function gradio runs on page load (WebUI injects them itself)."""
    sources = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "javascript").glob("*.js"))]
    return "() => {\n" + "\n".join(sources) + "\n}"


def build_standalone_blocks(host: Host, lang: str = "") -> gr.Blocks:
    """Every tab on one page, plus a Settings tab (WebUI has its own Settings page)."""
    set_language(lang)
    ctx = UiContext(host=host, standalone=True)
    css = (ROOT / "style.css").read_text(encoding="utf-8")
    with gr.Blocks(title="Model Workbench", css=css, analytics_enabled=False) as demo:
        with gr.Tabs(elem_id="mw_tabs"):
            for title, elem_id, builder in TABS:
                with gr.Tab(t(title), id=elem_id, elem_id=f"tab_{elem_id}"):
                    builder(ctx)
            settings_file = getattr(host, "settings_file", None)
            if settings_file is not None:
                with gr.Tab(t("Settings"), id="model_workbench_settings", elem_id="tab_model_workbench_settings"):
                    build_settings_tab(settings_file.load, settings_file.save)
        demo.load(None, None, None, **js_kwarg(_browser_script()))
    return demo


def launch(host: Host, server_name: str = "127.0.0.1", server_port: int = 7870, lang: str = "",
           open_browser: bool = False) -> None:
    demo = build_standalone_blocks(host, lang=lang)
    # Long handlers (downloads, library scans, training progress) yield for minutes: let other events run
    # meanwhile (gradio 3's queue runs one event at a time by default; gradio 4 limits per event instead).
    demo.queue(**({} if IS_GRADIO_4 else {"concurrency_count": 8}))
    app, _, _ = demo.launch(server_name=server_name, server_port=server_port, inbrowser=open_browser,
                            show_api=False, prevent_thread_lock=True)
    # The HTTP API on the same server, as WebUI mounts it after its own launch (routes added to a
    # running Starlette app are seen by the next request).
    from model_workbench.routes import build_router

    app.include_router(build_router(host))
    demo.block_thread()
