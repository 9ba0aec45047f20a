"""The standalone app's Settings tab (inside WebUI the same options live in WebUI's Settings page).

The fields are filled from the settings file at every page load, not once at app start, so Save
after a reload writes what is saved, not what the app started with. The API key never goes to the
page: its field is empty, an empty field keeps the saved key, and "Forget saved key" removes it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from model_workbench.settings_save import API_KEY, SettingsSave, plan_save
from model_workbench.settings_schema import SETTINGS, SettingSpec
from model_workbench.ui.compat import dropdown
from model_workbench.ui.i18n import t, tf
from model_workbench.ui.train_tab import on_page_load


def _component(spec: SettingSpec) -> gr.components.Component:
    elem_id = "mw_setting_" + spec.key.removeprefix("model_workbench_")
    label, info = t(spec.label), t(spec.info) if spec.info else None
    if spec.widget == "password":
        return gr.Textbox(label=label, info=info, type="password", elem_id=elem_id, value="")
    if spec.widget == "checkbox":
        return gr.Checkbox(label=label, info=info, value=bool(spec.default), elem_id=elem_id)
    if spec.widget == "dropdown":
        return dropdown(list(spec.choices), value=spec.default, label=label, info=info, elem_id=elem_id)
    return gr.Textbox(label=label, info=info, value=str(spec.default or ""), elem_id=elem_id)


def _field_update(spec: SettingSpec, value: Any) -> Any:
    if spec.widget == "password":
        hint = (t("A key is saved. Leave this empty to keep it, or type a new one.") if value
                else t("No key is saved."))
        return gr.update(value="", placeholder=hint)
    if spec.widget == "checkbox":
        return gr.update(value=bool(value))
    return gr.update(value="" if value is None else value)


def _div(css_class: str, sentences: list[str]) -> str:
    return f"<div class='{css_class}'>{html.escape(' '.join(sentences))}</div>"


def save_message(result: SettingsSave) -> str:
    """What Save did, as HTML: what changed, or why nothing was saved, and what is left to do."""
    if result.refusals:
        return _div("mw-error", [t("Nothing was saved.")] + [tf(r.template, **r.values) for r in result.refusals])
    if result.changed:
        message = _div("mw-ok", [tf("Saved: {names}.", names=", ".join(t(spec.label) for spec in result.changed))])
    else:
        message = _div("mw-ok", [t("Nothing changed: these settings were already saved.")])
    return message + "".join(_div("mw-notice", [t(note)]) for note in result.notes)


def build_settings_tab(load: Callable[[], dict[str, Any]], save: Callable[[dict[str, Any]], None]) -> None:
    fields = [_component(spec) for spec in SETTINGS]
    key_index = [spec.key for spec in SETTINGS].index(API_KEY)
    key_spec, key_field = SETTINGS[key_index], fields[key_index]
    with gr.Row():
        save_button = gr.Button(t("Save settings"), variant="primary", elem_id="mw_settings_save")
        forget_button = gr.Button(t("Forget saved key"), variant="secondary", visible=False,
                                  elem_id="mw_settings_forget_key")
    status = gr.HTML(elem_id="mw_settings_status")

    def shown(values: dict[str, Any]) -> list[Any]:
        """Every field as saved, and the forget button only while there is a key to forget."""
        return [_field_update(spec, values.get(spec.key, spec.default)) for spec in SETTINGS] + [
            gr.update(visible=bool(values.get(API_KEY)))]

    def on_load() -> list[Any]:
        return shown(load()) + [""]

    def on_save(*submitted: Any) -> list[Any]:
        result = plan_save(load(), dict(zip((spec.key for spec in SETTINGS), submitted, strict=True)))
        if result.refusals:  # keep what the user typed on the page, to correct it
            return [gr.update() for _ in SETTINGS] + [gr.update(), save_message(result)]
        try:
            save(result.values)
        except OSError as error:
            return [gr.update() for _ in SETTINGS] + [gr.update(), _div("mw-error", [
                t("Could not save the settings:"), str(error)])]
        return shown(result.values) + [save_message(result)]

    def on_forget() -> list[Any]:
        current = load()
        if not current.get(API_KEY):
            return [_field_update(key_spec, ""), gr.update(visible=False), _div("mw-ok", [t("No key is saved.")])]
        try:
            save(plan_save(current, {}, forget_key=True).values)
        except OSError as error:
            return [gr.update(), gr.update(), _div("mw-error", [t("Could not save the settings:"), str(error)])]
        return [_field_update(key_spec, ""), gr.update(visible=False),
                _div("mw-ok", [t("The saved Civitai API key was removed.")])]

    on_page_load(on_load, [], [*fields, forget_button, status])
    save_button.click(on_save, inputs=fields, outputs=[*fields, forget_button, status])
    forget_button.click(on_forget, inputs=[], outputs=[key_field, forget_button, status])
