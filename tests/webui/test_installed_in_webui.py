"""Inside a real WebUI: installed from URL, enabled, both tabs and the settings section exist, and
the API routes answer."""

from __future__ import annotations

import httpx

from model_workbench.settings_schema import SETTINGS


def config_components(url: str) -> list[dict]:
    return httpx.get(url + "/config", timeout=60).json()["components"]


def test_install_from_url_ran_our_installer_without_pip(installed_extension):
    target, output = installed_extension
    assert (target / "scripts" / "model_workbench.py").is_file()
    assert (target / "pyproject.toml").is_file()
    # Everything we need ships with WebUI: the installer must not have called pip.
    assert "Model Workbench requirement" not in output


def test_extension_is_listed_and_enabled(webui_server, installed_extension):
    url, _ = webui_server
    target, _ = installed_extension
    extensions = httpx.get(url + "/sdapi/v1/extensions", timeout=30).json()
    ours = [e for e in extensions if e["name"] == target.name]
    assert ours and ours[0]["enabled"] is True


def test_both_tabs_exist(webui_server):
    url, _ = webui_server
    tabs = {c["props"].get("elem_id"): c["props"].get("label") for c in config_components(url)
            if c.get("type") == "tabitem"}
    assert tabs.get("tab_model_workbench_civitai") == "Civitai"
    assert tabs.get("tab_model_workbench_train") == "Train Tools"
    ids = {c["props"].get("elem_id") for c in config_components(url)}
    assert {"mw_civitai_query", "mw_train_start", "mw_library_scan"} <= ids


def test_settings_section_is_registered(webui_server, webui_kind):
    url, _ = webui_server
    ids = {c["props"].get("elem_id") for c in config_components(url)}
    assert {f"setting_{spec.key}" for spec in SETTINGS} <= ids  # every option has its field in Settings
    if webui_kind == "forge":
        return  # Forge's /sdapi/v1/options lists only the options saved in config.json
    options = httpx.get(url + "/sdapi/v1/options", timeout=30).json()
    assert {spec.key for spec in SETTINGS} <= options.keys()
    assert options["model_workbench_nsfw_level"] == "PG-13"


def test_model_workbench_routes_answer(webui_server, webui_kind):
    url, log_path = webui_server
    status = httpx.get(url + "/model-workbench/v1/status", timeout=30)
    assert status.status_code == 200, log_path.read_text(errors="replace")[-3000:]
    body = status.json()
    assert body["flavor"] == webui_kind and body["can_generate"] is True and body["can_train"] is True
    if webui_kind == "forge":
        assert "Forge" in body["host"]
    folders = httpx.get(url + "/model-workbench/v1/folders", timeout=30).json()
    assert folders["lora"][0].endswith("Lora")


def test_no_errors_from_our_extension_in_the_log(webui_server, webui_kind):
    # WebUI reports a failing script or callback as "*** Error loading script: model_workbench.py" or
    # "*** Error executing callback ... model_workbench.py" and carries on; such a line is a failure here.
    _, log_path = webui_server
    lines = log_path.read_text(errors="replace").splitlines()
    ours = [line for line in lines if "Error" in line and "model_workbench" in line]
    assert ours == []
    if webui_kind == "a1111":  # Forge loads the checkpoint lazily, at the first generation
        assert any("Model loaded" in line for line in lines)
