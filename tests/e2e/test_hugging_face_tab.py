"""The Hugging Face sub-tab in a real browser over the standalone app and the fake Hub (set as the endpoint,
as a mirror would be): search → repo → file kinds → install a LoRA → the file and its sidecars on disk →
the Library says it came from the Hub; a gated repo gives its sentence; the token is kept like the Civitai
key; one check in Chinese."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_standalone_tabs import tab_button
from tests.support.app_server import AppServer
from tests.support.fake_hub import TOKEN, FakeHub


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as server:
        yield server


def _start(hub, tmp_path_factory, name, *extra):
    root = tmp_path_factory.mktemp(name)
    (root / "models" / "Lora").mkdir(parents=True)
    data = root / "data"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps({"model_workbench_hf_endpoint": hub.url}))
    return root, AppServer(["--models-dir", str(root / "models"), "--data-dir", str(data), *extra],
                           log_path=root / "server.log")


@pytest.fixture(scope="module")
def app(hub, tmp_path_factory):
    root, server = _start(hub, tmp_path_factory, "hf-tab")
    with server as url:
        yield url, root


def sub_tab(page, label):
    """The Civitai tab's sub-tab button (the Library's table also says "Hugging Face", in cells)."""
    return page.locator("#mw_civitai_tabs button", has_text=re.compile(rf"^\s*{label}\s*$")).first


def open_hub_tab(page, url, label="Hugging Face"):
    page.goto(url)
    sub_tab(page, label).click(timeout=30_000)
    expect(page.locator("#mw_hf_query textarea, #mw_hf_query input").first).to_be_visible(timeout=30_000)


def search(page, text):
    box = page.locator("#mw_hf_query textarea, #mw_hf_query input").first
    box.fill(text)
    box.press("Enter")


def open_repo(page, repo_id):
    card = page.locator(f".mw-hub-card[data-repo-id='{repo_id}']").first
    expect(card).to_be_visible(timeout=30_000)
    card.click()
    expect(page.locator("#mw_hf_details .mw-details-title").first).to_have_text(repo_id, timeout=30_000)


def test_search_open_install_a_lora_and_see_it_in_the_library(page, app, screenshot):
    url, root = app
    open_hub_tab(page, url)
    search(page, "castle")
    card = page.locator(".mw-hub-card[data-repo-id='fake-org/castle-lora']").first
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator(".mw-badge-type")).to_have_text("LoRA")
    expect(card.locator("img")).to_have_count(1, timeout=30_000)  # the preview, found after the search
    screenshot(page, "hf-search")

    open_repo(page, "fake-org/castle-lora")
    details = page.locator("#mw_hf_details").first
    expect(details.locator("tr[data-path='castle_lora.safetensors'] .mw-hub-kind")).to_have_text("LoRA · SD1")
    expect(details.locator(".mw-word code", has_text="castle style")).to_be_visible()
    expect(details.locator(".mw-facts")).to_contain_text("creativeml-openrail-m")
    expect(page.locator("#mw_hf_card").first.locator("strong", has_text="kohya")).to_be_visible()
    kind_box = page.locator("#mw_hf_install_kind input").first
    expect(kind_box).to_have_value("LoRA")
    lora = root / "models" / "Lora"
    expect(page.locator("#mw_hf_install_status").first).to_contain_text(str(lora / "castle_lora.safetensors"))
    screenshot(page, "hf-details")

    page.locator("#mw_hf_install").click()
    status = page.locator("#mw_hf_install_status").first
    expect(status).to_contain_text("Installed to", timeout=60_000)
    expect(page.locator("#mw_hf_queue .mw-job[data-status='done']").first).to_be_visible()
    installed = lora / "castle_lora.safetensors"
    assert installed.is_file()
    assert json.loads(installed.with_suffix(".json").read_text())["activation text"] == "castle style"
    assert installed.with_suffix(".preview.png").is_file()
    record = json.loads((lora / "castle_lora.hf.json").read_text())
    assert record["repo_id"] == "fake-org/castle-lora" and record["path"] == "castle_lora.safetensors"
    screenshot(page, "hf-installed")

    sub_tab(page, "Library").click()
    page.locator("#mw_library_scan").click()
    row = page.locator("#mw_library_table tr[data-path$='castle_lora.safetensors']").first
    expect(row).to_be_visible(timeout=60_000)
    expect(row.locator(".mw-lib-source")).to_have_text("Hugging Face")
    expect(row).to_have_attribute("data-source", "hub")
    screenshot(page, "hf-library")


def test_file_kinds_of_a_diffusers_repo_and_a_pasted_link(page, app):
    url, _ = app
    open_hub_tab(page, url)
    search(page, "fake-org/tiny-sd-diffusers")  # a bare org/repo opens it
    details = page.locator("#mw_hf_details").first
    expect(details.locator(".mw-details-title")).to_have_text("fake-org/tiny-sd-diffusers", timeout=30_000)
    expect(details.locator(".mw-hub-kind").first).to_contain_text("diffusers folder: not a single file WebUI can load")
    search(page, "https://huggingface.co/fake-org/tiny-sd15/blob/main/tiny-sd15.safetensors")
    expect(details.locator(".mw-details-title")).to_have_text("fake-org/tiny-sd15", timeout=30_000)
    expect(details.locator("tr[data-path='tiny-sd15.safetensors'] .mw-hub-kind")).to_have_text("Checkpoint · SD1")
    expect(page.locator("#mw_hf_install_kind input").first).to_have_value("Checkpoint")


def test_a_gated_repo_says_what_to_do(page, app, screenshot):
    url, _ = app
    open_hub_tab(page, url)
    search(page, "gated")
    gated_card = page.locator(".mw-hub-card[data-repo-id='fake-org/gated-lora']")
    expect(gated_card.locator(".mw-badge-warn")).to_have_text("Gated", timeout=30_000)
    expect(gated_card.locator("img")).to_have_count(0)  # its images need a token the browser does not have
    open_repo(page, "fake-org/gated-lora")
    details = page.locator("#mw_hf_details").first
    expect(details).to_contain_text("accept the license on the model page while logged in")
    page.locator("#mw_hf_install").click()
    status = page.locator("#mw_hf_install_status").first
    expect(status).to_contain_text("set a token in Settings", timeout=60_000)
    screenshot(page, "hf-gated")


def test_the_token_is_saved_privately_and_never_shown(page, app):
    url, root = app
    page.goto(url)
    tab_button(page, "Settings").click()
    field = page.locator("#mw_setting_hf_token input")
    expect(field).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)  # the page load fills the fields
    field.fill(TOKEN)
    page.locator("#mw_settings_save").click()
    expect(page.locator("#mw_settings_status").first).to_contain_text("Hugging Face access token")
    assert json.loads((root / "data" / "settings.json").read_text())["model_workbench_hf_token"] == TOKEN
    page.reload()
    tab_button(page, "Settings").click()
    expect(field).to_have_value("", timeout=30_000)
    expect(field).to_have_attribute("placeholder", "A token is saved. Leave this empty to keep it, or type a new one.")
    assert TOKEN not in page.content()
    page.locator("#mw_settings_forget_hf_token").click()
    expect(page.locator("#mw_settings_status").first).to_contain_text("The saved Hugging Face token was removed.")
    assert json.loads((root / "data" / "settings.json").read_text())["model_workbench_hf_token"] == ""


def test_the_sub_tab_in_chinese(page, hub, tmp_path_factory, screenshot):
    _, server = _start(hub, tmp_path_factory, "hf-tab-zh", "--lang", "zh_CN")
    with server as url:
        open_hub_tab(page, url, "Hugging Face")
        search(page, "castle")
        open_repo(page, "fake-org/castle-lora")
        expect(page.locator("#mw_hf_details tr[data-path='castle_lora.safetensors'] .mw-hub-kind")).to_have_text(
            "LoRA · SD1")
        expect(page.locator("#mw_hf_install")).to_have_text("安装")
        expect(page.locator("#mw_hf_details").first).to_contain_text("在 Hugging Face 上打开")
        screenshot(page, "hf-details-zh")
