"""Register Model Workbench with WebUI: tabs, settings and API routes.

``scripts/model_workbench.py`` calls :func:`register` when WebUI loads (and on every UI reload,
after WebUI has cleared all callbacks).
"""

from __future__ import annotations

from typing import Any

from modules import script_callbacks, shared

from model_workbench.webui.host import WebuiHost
from model_workbench.webui.routes import register_routes
from model_workbench.webui.settings import register_settings

_host: WebuiHost | None = None


def get_host() -> WebuiHost:
    """One host per WebUI process; it survives UI reloads like the package itself."""
    global _host
    if _host is None:
        _host = WebuiHost()
    return _host


def on_ui_tabs() -> list[tuple[Any, str, str]]:
    # Imported at call time: building tabs needs gradio, registering does not.
    from model_workbench.ui.app import build_webui_tabs

    return build_webui_tabs(get_host(), runtime_language=str(getattr(shared.opts, "localization", "") or ""))


def on_app_started(demo: Any, app: Any) -> None:
    register_routes(app, get_host())


def register() -> None:
    script_callbacks.on_ui_settings(register_settings)
    script_callbacks.on_ui_tabs(on_ui_tabs)
    script_callbacks.on_app_started(on_app_started)
