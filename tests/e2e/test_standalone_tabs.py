"""The standalone app in a real browser: both tabs visible and switchable, settings saved privately."""

from __future__ import annotations

import json

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


def test_settings_are_saved_and_the_key_never_comes_back_to_the_page(page, app_url, screenshot):
    url, root = app_url
    page.goto(url)
    tab_button(page, "Settings").click()
    key_field = page.locator("#mw_setting_civitai_api_key input")
    expect(key_field).to_be_visible(timeout=30_000)
    key_field.fill("sk-e2e-secret")
    page.locator("#mw_setting_civitai_base_url textarea, #mw_setting_civitai_base_url input").first.fill(
        "http://127.0.0.1:9")
    page.locator("#mw_settings_save").click()
    expect(page.locator("#mw_settings_status").first).to_contain_text("Settings saved.")
    stored = json.loads((root / "data" / "settings.json").read_text())
    assert stored["model_workbench_civitai_api_key"] == "sk-e2e-secret"
    assert stored["model_workbench_civitai_base_url"] == "http://127.0.0.1:9"

    page.reload()
    tab_button(page, "Settings").click()
    expect(page.locator("#mw_setting_civitai_api_key input")).to_be_visible(timeout=30_000)
    assert "sk-e2e-secret" not in page.content()
    assert "sk-e2e-secret" not in httpx.get(url + "/config").text
    screenshot(page, "settings-tab")


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
