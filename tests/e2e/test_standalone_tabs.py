"""The standalone app in a real browser: both tabs visible and switchable, settings saved privately."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("standalone")
    (root / "models" / "Lora").mkdir(parents=True)
    with AppServer(["--models-dir", str(root / "models"), "--data-dir", str(root / "data")],
                   log_path=root / "server.log") as url:
        yield url, root


def tab_button(page, label):
    return page.get_by_role("tab", name=label) if page.get_by_role("tab", name=label).count() else \
        page.locator("button", has_text=label).first


def test_both_tabs_are_visible_and_switchable(page, app_url, screenshot):
    url, root = app_url
    page.goto(url)
    civitai, train = tab_button(page, "Civitai"), tab_button(page, "Train Tools")
    expect(civitai).to_be_visible(timeout=30_000)
    expect(train).to_be_visible()
    expect(page.locator("#mw_civitai_query textarea")).to_be_visible()
    screenshot(page, "civitai-tab")

    train.click()
    expect(page.locator("#mw_train_upload")).to_be_visible()
    page.locator("#mw_train_tabs").get_by_text("Train", exact=True).click()
    expect(page.locator("#mw_train_start")).to_be_visible()
    expect(page.locator("#mw_train_notice").first).to_contain_text("need Stable Diffusion WebUI")
    expect(page.locator("#mw_civitai_query textarea")).to_be_hidden()
    screenshot(page, "train-tab")

    civitai.click()
    expect(page.locator("#mw_civitai_query textarea")).to_be_visible()
    page.locator("#mw_civitai_tabs").get_by_text("Library", exact=True).click()
    expect(page.locator("#mw_library_scan")).to_be_visible()


def _field(page, name):
    return page.locator(f"#mw_setting_{name} textarea, #mw_setting_{name} input").first


def _open_settings(page, url):
    page.goto(url)
    tab_button(page, "Settings").click()
    key_field = page.locator("#mw_setting_civitai_api_key input")
    expect(key_field).to_be_visible(timeout=30_000)
    # The page load refills every field from the file and then gives the key field its placeholder;
    # typing before that lands is overwritten (seen under gradio 4), so act only after it.
    expect(key_field).to_have_attribute("placeholder", re.compile(r"\S"), timeout=30_000)


def test_settings_are_saved_and_the_key_never_comes_back_to_the_page(page, app_url, screenshot):
    url, root = app_url
    _open_settings(page, url)
    key_field = page.locator("#mw_setting_civitai_api_key input")
    key_field.fill("sk-e2e-secret")
    site = page.locator("#mw_setting_civitai_base_url input").first  # a dropdown that takes a typed address
    site.fill("http://127.0.0.1:9")
    site.press("Enter")
    page.locator("#mw_settings_save").click()
    expect(page.locator("#mw_settings_status").first).to_contain_text("Saved: Civitai API key, Civitai site.")
    stored = json.loads((root / "data" / "settings.json").read_text())
    assert stored["model_workbench_civitai_api_key"] == "sk-e2e-secret"
    assert stored["model_workbench_civitai_base_url"] == "http://127.0.0.1:9"

    page.reload()
    tab_button(page, "Settings").click()
    expect(page.locator("#mw_setting_civitai_api_key input")).to_be_visible(timeout=30_000)
    assert "sk-e2e-secret" not in page.content()
    assert "sk-e2e-secret" not in httpx.get(url + "/config").text
    screenshot(page, "settings-tab")


def test_settings_survive_a_reload_and_save_says_what_changed(page, tmp_path, screenshot):
    data = tmp_path / "data"
    with AppServer(["--models-dir", str(tmp_path / "models"), "--data-dir", str(data)],
                   log_path=tmp_path / "server.log") as url:
        status = page.locator("#mw_settings_status").first
        _open_settings(page, url)
        page.locator("#mw_setting_civitai_api_key input").fill("sk-e2e-keep")
        _field(page, "proxy").fill("127.0.0.1:7890")
        page.locator("#mw_settings_save").click()
        expect(status).to_contain_text("Saved: Civitai API key, Proxy for Civitai and Hugging Face.")
        expect(_field(page, "proxy")).to_have_value("http://127.0.0.1:7890")  # the form it was saved in

        # A reload shows what is saved now (not what the app read at start), and Save keeps it all.
        _open_settings(page, url)
        expect(_field(page, "proxy")).to_have_value("http://127.0.0.1:7890", timeout=30_000)
        expect(page.locator("#mw_setting_civitai_api_key input")).to_have_value("")
        expect(page.locator("#mw_settings_forget_key")).to_be_visible()
        page.locator("#mw_settings_save").click()
        expect(status).to_contain_text("Nothing changed")
        stored = json.loads((data / "settings.json").read_text())
        assert stored["model_workbench_civitai_api_key"] == "sk-e2e-keep"
        assert stored["model_workbench_proxy"] == "http://127.0.0.1:7890"
        assert "sk-e2e-keep" not in page.content()
        screenshot(page, "settings-tab-after-reload")

        # An address that cannot work is refused with a sentence, and nothing is saved.
        _field(page, "proxy").fill("garbage proxy")
        _field(page, "civitai_base_url").fill("not a url")
        _field(page, "civitai_base_url").press("Enter")
        page.locator("#mw_settings_save").click()
        expect(status).to_contain_text("“garbage proxy” is not a proxy address")
        expect(status).to_contain_text("“not a url” is not a web address")
        screenshot(page, "settings-tab-refused")
        assert json.loads((data / "settings.json").read_text()) == stored

        # Forgetting the key is its own action.
        page.locator("#mw_settings_forget_key").click()
        expect(status).to_contain_text("The saved Civitai API key was removed.")
        expect(page.locator("#mw_settings_forget_key")).to_be_hidden()
        stored = json.loads((data / "settings.json").read_text())
        assert stored["model_workbench_civitai_api_key"] == ""
        assert stored["model_workbench_proxy"] == "http://127.0.0.1:7890"


def test_the_app_in_chinese(page, tmp_path, screenshot):
    with AppServer(["--models-dir", str(tmp_path / "models"), "--data-dir", str(tmp_path / "data"), "--lang", "zh_CN"],
                   log_path=tmp_path / "server.log") as url:
        page.goto(url)
        expect(tab_button(page, "训练工具")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("搜索 Civitai").first).to_be_visible()
        tab_button(page, "训练工具").click()
        expect(page.locator("#mw_train_notice").first).to_contain_text("WebUI")
        screenshot(page, "train-tab-zh_CN")
        assert "Train Tools" not in page.locator("#mw_tabs").first.inner_text()
