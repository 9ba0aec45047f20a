"""The standalone app's Settings tab (inside WebUI the same options live in WebUI's Settings page)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from model_workbench.settings_schema import SETTINGS, SettingSpec
from model_workbench.ui.compat import dropdown
from model_workbench.ui.i18n import t

API_KEY_PLACEHOLDER = "********"


def _component(spec: SettingSpec, value: Any) -> gr.components.Component:
    elem_id = "mw_setting_" + spec.key.removeprefix("model_workbench_")
    label, info = t(spec.label), t(spec.info) if spec.info else None
    if spec.widget == "password":
        # The key itself never goes to the page: the field shows a mask when a key is stored.
        return gr.Textbox(label=label, info=info, type="password", elem_id=elem_id,
                          value=API_KEY_PLACEHOLDER if value else "")
    if spec.widget == "checkbox":
        return gr.Checkbox(label=label, info=info, value=bool(value), elem_id=elem_id)
    if spec.widget == "dropdown":
        return dropdown(list(spec.choices), value=value, label=label, info=info, elem_id=elem_id)
    return gr.Textbox(label=label, info=info, value=str(value or ""), elem_id=elem_id)


def build_settings_tab(load: Callable[[], dict[str, Any]], save: Callable[[dict[str, Any]], None]) -> None:
    values = load()
    components = [_component(spec, values.get(spec.key, spec.default)) for spec in SETTINGS]
    button = gr.Button(t("Save settings"), variant="primary", elem_id="mw_settings_save")
    status = gr.HTML(elem_id="mw_settings_status")

    def on_save(*new_values: Any) -> str:
        updates = {}
        for spec, value in zip(SETTINGS, new_values, strict=True):
            if spec.widget == "password" and value == API_KEY_PLACEHOLDER:
                continue  # unchanged mask: keep the stored key
            updates[spec.key] = value.strip() if isinstance(value, str) else value
        try:
            save(updates)
        except OSError as error:
            return f"<div class='mw-error'>{html.escape(t('Could not save the settings:'))} {html.escape(str(error))}</div>"
        return f"<div class='mw-ok'>{html.escape(t('Settings saved.'))}</div>"

    button.click(on_save, inputs=components, outputs=[status])
