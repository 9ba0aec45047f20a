"""The standalone app's Settings tab (inside WebUI the same options live in WebUI's Settings page).

The fields are filled from the settings file at every page load, not once at app start, so Save
after a reload writes what is saved, not what the app started with. The secrets (the Civitai API key,
the Hugging Face token) never go to the page: their fields are empty, an empty field keeps the saved
secret, and each one's Forget button removes it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from model_workbench.settings_save import API_KEY, HF_TOKEN, SettingsSave, plan_save
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


def _secret_texts(key: str) -> dict[str, str]:
    """What the page says about one secret: saved or not, the Forget button, and what Forget did."""
    if key == HF_TOKEN:
        return {"saved": t("A token is saved. Leave this empty to keep it, or type a new one."),
                "none": t("No token is saved."), "forget": t("Forget saved token"),
                "forgotten": t("The saved Hugging Face token was removed.")}
    return {"saved": t("A key is saved. Leave this empty to keep it, or type a new one."),
            "none": t("No key is saved."), "forget": t("Forget saved key"),
            "forgotten": t("The saved Civitai API key was removed.")}


# The Forget button of each secret (the Civitai key's keeps its first id).
FORGET_IDS = {API_KEY: "mw_settings_forget_key", HF_TOKEN: "mw_settings_forget_hf_token"}


def _field_update(spec: SettingSpec, value: Any) -> Any:
    if spec.widget == "password":
        texts = _secret_texts(spec.key)
        return gr.update(value="", placeholder=texts["saved"] if value else texts["none"])
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
    secrets = [(spec, field) for spec, field in zip(SETTINGS, fields, strict=True) if spec.widget == "password"]
    with gr.Row():
        save_button = gr.Button(t("Save settings"), variant="primary", elem_id="mw_settings_save")
        forget_buttons = [gr.Button(_secret_texts(spec.key)["forget"], variant="secondary", visible=False,
                                    elem_id=FORGET_IDS[spec.key]) for spec, _ in secrets]
    status = gr.HTML(elem_id="mw_settings_status")

    def shown(values: dict[str, Any]) -> list[Any]:
        """Every field as saved, and each Forget button only while there is a secret to forget."""
        return [_field_update(spec, values.get(spec.key, spec.default)) for spec in SETTINGS] + [
            gr.update(visible=bool(values.get(spec.key))) for spec, _ in secrets]

    unchanged = [gr.update() for _ in [*SETTINGS, *secrets]]

    def on_load() -> list[Any]:
        return shown(load()) + [""]

    def on_save(*submitted: Any) -> list[Any]:
        result = plan_save(load(), dict(zip((spec.key for spec in SETTINGS), submitted, strict=True)))
        if result.refusals:  # keep what the user typed on the page, to correct it
            return unchanged + [save_message(result)]
        try:
            save(result.values)
        except OSError as error:
            return unchanged + [_div("mw-error", [t("Could not save the settings:"), str(error)])]
        return shown(result.values) + [save_message(result)]

    def forgetter(spec: SettingSpec) -> Callable[[], list[Any]]:
        texts = _secret_texts(spec.key)

        def on_forget() -> list[Any]:
            current = load()
            if not current.get(spec.key):
                return [_field_update(spec, ""), gr.update(visible=False), _div("mw-ok", [texts["none"]])]
            try:
                save(plan_save(current, {}, forget=(spec.key,)).values)
            except OSError as error:
                return [gr.update(), gr.update(), _div("mw-error", [t("Could not save the settings:"), str(error)])]
            return [_field_update(spec, ""), gr.update(visible=False), _div("mw-ok", [texts["forgotten"]])]

        return on_forget

    on_page_load(on_load, [], [*fields, *forget_buttons, status])
    save_button.click(on_save, inputs=fields, outputs=[*fields, *forget_buttons, status])
    for (spec, field), button in zip(secrets, forget_buttons, strict=True):
        button.click(forgetter(spec), inputs=[], outputs=[field, button, status])
