"""Model Workbench's section in WebUI's Settings page, built from the shared settings schema.

The secret fields (the Civitai API key, the Hugging Face token) never hold the secret after it is
applied: their ``onchange`` moves it into the :class:`~model_workbench.secrets_store.SecretStore` and
leaves a mask in WebUI's options, so it is not in config.json, the page, ``/sdapi/v1/options`` or
WebUI's system-info report.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from modules import shared

from model_workbench.secrets_store import MASK, SecretStore
from model_workbench.settings_save import NORMALIZERS
from model_workbench.settings_schema import (
    API_KEY_SETTING,
    SECRET_SETTINGS,
    SECTION_ID,
    SECTION_LABEL,
    SETTINGS,
    SettingSpec,
)

SECTION = (SECTION_ID, SECTION_LABEL)
API_KEY_OPTION = API_KEY_SETTING
_store: SecretStore | None = None


def secret_store() -> SecretStore:
    global _store
    if _store is None:
        _store = SecretStore()
    return _store


def stash_secret(option: str = API_KEY_OPTION) -> None:
    """Move a secret typed into its settings field into the secret store; leave the mask behind.

    An empty field removes the stored secret: the field shows the mask whenever one is saved (see
    :func:`show_whether_secrets_are_saved`), so it is empty only when the user deleted the mask. Called as
    the option's ``onchange`` (WebUI saves config.json after the callbacks) and when settings are read,
    for a secret an older config still holds.
    """
    value = shared.opts.data.get(option, "")
    if value == MASK:
        return
    secret_store().set(SECRET_SETTINGS[option], (value or "").strip())
    shared.opts.data[option] = MASK if value else ""


def show_whether_secrets_are_saved() -> None:
    """Keep each field's mask true to the secret store: WebUI fills its settings page from the options at
    every page load, so the mask shows a saved secret and an empty field means there is none."""
    for option, name in SECRET_SETTINGS.items():
        shared.opts.data[option] = MASK if secret_store().get(name) else ""


def _normalizer(key: str) -> Any:
    """``onchange`` that writes the value in its one form, or raises so that WebUI puts the old value back
    (WebUI prints our sentence in its console and counts the setting as not changed)."""

    def normalize() -> None:
        shared.opts.data[key] = NORMALIZERS[key](str(shared.opts.data.get(key) or ""))

    return normalize


def _option(spec: SettingSpec) -> Any:
    component: Any = None
    component_args: dict[str, Any] | None = None
    if spec.widget == "password":
        component, component_args = gr.Textbox, {"type": "password"}
    elif spec.widget == "dropdown":
        component, component_args = gr.Dropdown, {"choices": list(spec.choices)}
        if spec.allow_custom:
            component_args["allow_custom_value"] = True
    elif spec.widget == "text":
        component = gr.Textbox
    # A checkbox needs no component: WebUI picks one for a bool default.
    extra: dict[str, Any] = {}
    if spec.widget == "password":
        # Not settable through /sdapi/v1/options, and stashed away as soon as it is applied.
        extra = {"onchange": lambda option=spec.key: stash_secret(option), "restrict_api": True}
    elif spec.key in NORMALIZERS:
        extra = {"onchange": _normalizer(spec.key)}
    info = shared.OptionInfo(spec.default, spec.label, component, component_args, section=SECTION, **extra)
    return info.info(spec.info) if spec.info else info


def register_settings() -> None:
    """``on_ui_settings`` callback: add every option to the "Model Workbench" section."""
    for spec in SETTINGS:
        shared.opts.add_option(spec.key, _option(spec))
    _stash_left_secrets()  # a key an older config still holds
    show_whether_secrets_are_saved()


def _stash_left_secrets() -> None:
    for option in SECRET_SETTINGS:
        if shared.opts.data.get(option) not in (None, "", MASK):
            stash_secret(option)


def current_values() -> dict[str, Any]:
    """Option values as they are now (defaults until WebUI has registered the section), with the real secrets."""
    _stash_left_secrets()
    values = {spec.key: getattr(shared.opts, spec.key, spec.default) for spec in SETTINGS}
    for option, name in SECRET_SETTINGS.items():
        values[option] = secret_store().get(name)
    return values
