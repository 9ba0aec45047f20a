"""Inside a real WebUI: a LoRA downloaded through the extension (pointed at a fake Civitai on 127.0.0.1)
appears in ``/sdapi/v1/loras`` at once, without a restart, with its sidecars beside it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.support.fake_civitai import FakeCivitai
from tests.support.webui_downloads import source_settings, wait_for_job


@pytest.fixture
def fake_civitai_in_webui(webui_server, webui_secrets_dir):
    url, _ = webui_server
    with FakeCivitai(api_key="test-key") as srv, source_settings(
            url, webui_secrets_dir,
            # The key sent through the API is refused; the Settings page keeps it in the secret store.
            {"model_workbench_civitai_base_url": srv.url, "model_workbench_civitai_api_key": "sk-through-the-api"},
            {"civitai_api_key": "test-key"}, restore=("model_workbench_civitai_base_url",)):
        yield url, srv


def test_the_api_key_is_never_in_webui_options(fake_civitai_in_webui):
    url, _ = fake_civitai_in_webui
    options = httpx.get(url + "/sdapi/v1/options", timeout=30).text
    assert "sk-through-the-api" not in options and "test-key" not in options


def test_a_downloaded_lora_is_listed_without_a_restart(fake_civitai_in_webui):
    url, srv = fake_civitai_in_webui
    name = f"mw_webui_tier_{int(time.time())}"
    f = srv.add_file(data=b"not really a lora" * 1000, name=f"{name}.safetensors", trained_words=["webui tier"])
    loras = {lora["name"] for lora in httpx.get(url + "/sdapi/v1/loras", timeout=30).json()}
    assert name not in loras

    answer = httpx.post(url + "/model-workbench/v1/civitai/download", json={"version_id": f.version_id}, timeout=60)
    assert answer.status_code == 200, answer.text
    job_id, path = answer.json()["job_id"], Path(answer.json()["path"])
    try:
        job = wait_for_job(url, job_id)
        assert job["status"] == "done", job
        assert path.is_file() and path.parent.name == "Lora"
        for suffix in (".json", ".civitai.info", ".preview.png"):
            assert path.with_suffix(suffix).is_file(), suffix
        loras = {lora["name"]: lora for lora in httpx.get(url + "/sdapi/v1/loras", timeout=30).json()}
        assert name in loras  # listed by WebUI's own registry, no restart and no manual refresh
        assert Path(loras[name]["path"]) == path
    finally:
        for suffix in (".safetensors", ".json", ".civitai.info", ".preview.png"):
            path.with_suffix(suffix).unlink(missing_ok=True)
        httpx.post(url + "/sdapi/v1/refresh-loras", timeout=60)


def test_the_tab_works_in_webuis_page(fake_civitai_in_webui):
    """Card click → details, "send to prompt" → txt2img's prompt, an example's parameters → txt2img's fields."""
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    url, srv = fake_civitai_in_webui
    srv.add_file(data=b"w" * 1000, name="webui_castle.safetensors", model_name="WebUI Castle Unique",
                 trained_words=["webui castle"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, timeout=120_000)
            page.locator("#tabs > .tab-nav > button", has_text="Civitai").click(timeout=120_000)
            box = page.locator("#mw_civitai_query textarea, #mw_civitai_query input").first
            box.fill("WebUI Castle Unique")
            box.press("Enter")
            card = page.locator(".mw-card", has_text="WebUI Castle Unique").first
            expect(card).to_be_visible(timeout=60_000)
            card.click()
            details = page.locator("#mw_civitai_details").first
            expect(details.locator(".mw-details-title")).to_have_text("WebUI Castle Unique", timeout=60_000)
            if os.environ.get("MW_SCREENSHOT_DIR"):
                page.screenshot(path=str(Path(os.environ["MW_SCREENSHOT_DIR"]) / "webui-civitai-tab.png"))
            details.get_by_text("Send to prompt", exact=True).click()
            prompt = page.locator("#txt2img_prompt textarea")
            expect(prompt).to_have_value("<lora:webui_castle:1>, webui castle", timeout=10_000)

            page.locator("#tabs > .tab-nav > button", has_text="Civitai").click()
            page.locator("#mw_civitai_details_more").first.get_by_text("Send to txt2img").first.click()
            expect(prompt).to_have_value("fake trigger, a castle", timeout=10_000)
            expect(page.locator("#txt2img_steps input[type=number]")).to_have_value("20")
            expect(page.locator("#txt2img_seed input[type=number]")).to_have_value("42")

            # Download from the tab: the Extra Networks card appears without pressing Refresh.
            page.locator("#tabs > .tab-nav > button", has_text="Civitai").click()
            page.locator("#mw_civitai_download").click()
            status = page.locator("#mw_civitai_download_status").first
            expect(status).to_contain_text("Installed to", timeout=120_000)
            card = page.locator("#txt2img_lora_cards .card[data-name='webui_castle']")
            expect(card).to_have_count(1, timeout=60_000)
            expect(card).to_contain_text("A fake model.")  # the description from the .json sidecar
            assert "preview.png" in (card.get_attribute("style") or "") + card.inner_html()
        finally:
            browser.close()
            lora_dir = Path(httpx.get(url + "/model-workbench/v1/folders", timeout=30).json()["lora"][0])
            for leftover in lora_dir.glob("webui_castle*"):
                leftover.unlink()
            httpx.post(url + "/sdapi/v1/refresh-loras", timeout=60)
