"""Model Workbench's section in WebUI's Settings page, built from the shared settings schema."""

from __future__ import annotations

from typing import Any

import gradio as gr
from modules import shared

from model_workbench.settings_schema import SECTION_ID, SECTION_LABEL, SETTINGS, SettingSpec

SECTION = (SECTION_ID, SECTION_LABEL)


def _option(spec: SettingSpec) -> Any:
    component: Any = None
    component_args: dict[str, Any] | None = None
    if spec.widget == "password":
        component, component_args = gr.Textbox, {"type": "password"}
    elif spec.widget == "dropdown":
        component, component_args = gr.Dropdown, {"choices": list(spec.choices)}
    elif spec.widget == "text":
        component = gr.Textbox
    # A checkbox needs no component: WebUI picks one for a bool default.
    info = shared.OptionInfo(spec.default, spec.label, component, component_args, section=SECTION)
    return info.info(spec.info) if spec.info else info


def register_settings() -> None:
    """``on_ui_settings`` callback: add every option to the "Model Workbench" section."""
    for spec in SETTINGS:
        shared.opts.add_option(spec.key, _option(spec))


def current_values() -> dict[str, Any]:
    """Option values as they are now (defaults until WebUI has registered the section)."""
    return {spec.key: getattr(shared.opts, spec.key, spec.default) for spec in SETTINGS}
