"""Loading scripts/model_workbench.py inside a (fake) WebUI registers tabs, settings and routes."""

from __future__ import annotations

import base64

import gradio as gr
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.settings_schema import SECTION_ID, SECTION_LABEL, SETTINGS
from tests.contract.conftest import load_extension_script


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_script_registers_three_callbacks(fake_webui):
    load_extension_script()
    callbacks = fake_webui.script_callbacks.callback_map
    assert len(callbacks["callbacks_ui_tabs"]) == 1
    assert len(callbacks["callbacks_ui_settings"]) == 1
    assert len(callbacks["callbacks_app_started"]) == 1


def test_ui_tabs_are_civitai_and_train_tools(fake_webui):
    load_extension_script()
    tabs = fake_webui.script_callbacks.ui_tabs_callback()
    assert [(title, elem_id) for _, title, elem_id in tabs] == [
        ("Civitai", "model_workbench_civitai"),
        ("Train Tools", "model_workbench_train"),
    ]
    assert all(isinstance(blocks, gr.Blocks) for blocks, _, _ in tabs)
    # Laid-out components are there with their element ids, ready for the browser script.
    civitai_ids = {getattr(b, "elem_id", None) for b in tabs[0][0].blocks.values()}
    assert {"mw_civitai_query", "mw_civitai_search_button", "mw_civitai_results", "mw_library_scan"} <= civitai_ids
    train_ids = {getattr(b, "elem_id", None) for b in tabs[1][0].blocks.values()}
    assert {"mw_train_start", "mw_train_grid_run", "mw_train_publish"} <= train_ids


def test_settings_section_has_every_option(fake_webui):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    labels = fake_webui.shared.opts.data_labels
    for spec in SETTINGS:
        info = labels[spec.key]
        assert info.section == (SECTION_ID, SECTION_LABEL)
        assert info.default == spec.default
    key_option = labels["model_workbench_civitai_api_key"]
    assert key_option.component is gr.Textbox and key_option.component_args == {"type": "password"}
    assert labels["model_workbench_nsfw_level"].component_args["choices"] == ["PG", "PG-13", "R", "X", "XXX"]


def test_routes_answer_without_auth_when_webui_has_none(fake_webui):
    load_extension_script()
    app = FastAPI()
    fake_webui.script_callbacks.app_started_callback(None, app)
    response = TestClient(app).get("/model-workbench/v1/status")
    assert response.status_code == 200
    body = response.json()
    assert body["flavor"] == "a1111" and body["can_generate"] is True


def test_routes_refuse_requests_without_credentials_when_api_auth_is_on(fake_webui):
    fake_webui.shared.cmd_opts.api_auth = "alice:s3cret,bob:hunter2"
    load_extension_script()
    app = FastAPI()
    fake_webui.script_callbacks.app_started_callback(None, app)
    client = TestClient(app)
    assert client.get("/model-workbench/v1/status").status_code == 401
    assert client.get("/model-workbench/v1/status", headers=_basic("alice", "wrong")).status_code == 401
    assert client.get("/model-workbench/v1/folders", headers=_basic("mallory", "s3cret")).status_code == 401
    assert client.get("/model-workbench/v1/status", headers=_basic("alice", "s3cret")).status_code == 200
    folders = client.get("/model-workbench/v1/folders", headers=_basic("bob", "hunter2"))
    assert folders.status_code == 200 and "lora" in folders.json()


def test_api_key_is_moved_out_of_webui_options_when_applied(fake_webui, tmp_path):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    opts = fake_webui.shared.opts
    assert opts.set("model_workbench_civitai_api_key", "sk-typed-in-settings") is True
    # WebUI saves opts.data to config.json and sends it to the page: only the mask is there.
    assert opts.data["model_workbench_civitai_api_key"] == "********"
    stored = tmp_path / "secrets" / "secrets.json"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    from model_workbench.webui.entry import get_host

    assert get_host().settings().civitai_api_key == "sk-typed-in-settings"
    # Applying the page again (the field still shows the mask) keeps the key.
    assert opts.set("model_workbench_civitai_api_key", "********") is False
    assert get_host().settings().civitai_api_key == "sk-typed-in-settings"
    # Clearing the field removes it.
    opts.set("model_workbench_civitai_api_key", "")
    assert get_host().settings().civitai_api_key == ""
    assert "sk-typed-in-settings" not in stored.read_text()


def test_api_key_cannot_be_set_through_webui_options_api(fake_webui):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    assert fake_webui.shared.opts.set("model_workbench_civitai_api_key", "sk-from-api", is_api=True) is False


def test_a_key_left_in_an_older_config_is_moved_on_first_read(fake_webui):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    fake_webui.shared.opts.data["model_workbench_civitai_api_key"] = "sk-legacy"
    from model_workbench.webui.entry import get_host

    assert get_host().settings().civitai_api_key == "sk-legacy"
    assert fake_webui.shared.opts.data["model_workbench_civitai_api_key"] == "********"


def test_site_choice_offers_com_and_red_and_takes_a_typed_address(fake_webui):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    site = fake_webui.shared.opts.data_labels["model_workbench_civitai_base_url"]
    assert site.component is gr.Dropdown
    assert site.component_args == {"choices": ["https://civitai.com", "https://civitai.red"], "allow_custom_value": True}


def test_proxy_site_and_hub_endpoint_are_checked_when_applied(fake_webui):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    opts = fake_webui.shared.opts
    for option, typed, stored, refused in (("model_workbench_proxy", "127.0.0.1:7890", "http://127.0.0.1:7890",
                                            "garbage proxy"),
                                           ("model_workbench_civitai_base_url", "civitai.red/", "https://civitai.red",
                                            "not a url"),
                                           ("model_workbench_hf_endpoint", "hf-mirror.com/", "https://hf-mirror.com",
                                            "not a mirror")):
        assert opts.set(option, typed) is True
        assert opts.data[option] == stored
        # WebUI puts the old value back when onchange refuses, and says "0 settings changed".
        assert opts.set(option, refused) is False
        assert opts.data[option] == stored, option
    from model_workbench.webui.entry import get_host

    settings = get_host().settings()
    assert settings.civitai_base_url == "https://civitai.red" and settings.proxy == "http://127.0.0.1:7890"
    assert settings.hf_endpoint == "https://hf-mirror.com"


def test_the_settings_page_shows_the_mask_exactly_when_a_key_is_saved(fake_webui, tmp_path):
    # The page is filled from WebUI's options at every load: they must say whether a key is saved, so
    # that Apply never wipes a key the page did not show, and a mask never stands for a key that is gone.
    from model_workbench.secrets_store import SecretStore

    SecretStore(tmp_path / "secrets").set("civitai_api_key", "sk-from-an-earlier-config")
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    opts = fake_webui.shared.opts
    assert opts.data["model_workbench_civitai_api_key"] == "********"
    assert opts.set("model_workbench_civitai_api_key", "********") is False  # Apply of the reloaded page
    from model_workbench.webui.entry import get_host

    assert get_host().settings().civitai_api_key == "sk-from-an-earlier-config"
    SecretStore(tmp_path / "secrets").set("civitai_api_key", "")
    fake_webui.script_callbacks.ui_settings_callback()
    assert opts.data["model_workbench_civitai_api_key"] == ""


def test_the_hub_token_is_moved_out_of_webui_options_like_the_civitai_key(fake_webui, tmp_path):
    load_extension_script()
    fake_webui.script_callbacks.ui_settings_callback()
    opts = fake_webui.shared.opts
    token_option = opts.data_labels["model_workbench_hf_token"]
    assert token_option.component is gr.Textbox and token_option.component_args == {"type": "password"}
    assert opts.set("model_workbench_hf_token", "hf_from_api", is_api=True) is False
    assert opts.set("model_workbench_hf_token", "hf_typed") is True
    assert opts.data["model_workbench_hf_token"] == "********"
    from model_workbench.webui.entry import get_host

    settings = get_host().settings()
    assert settings.hf_token == "hf_typed" and "hf_typed" not in repr(settings)
    stored = tmp_path / "secrets" / "secrets.json"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    # Setting the Civitai key keeps the token, and clearing the token keeps the key.
    opts.set("model_workbench_civitai_api_key", "sk-key")
    opts.set("model_workbench_hf_token", "")
    settings = get_host().settings()
    assert settings.hf_token == "" and settings.civitai_api_key == "sk-key"
    assert "hf_typed" not in stored.read_text()
