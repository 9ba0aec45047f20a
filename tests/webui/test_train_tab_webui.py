"""The Train Tools tab and its routes inside a real WebUI: the contract's routes answer, and the tab is
filled from disk when WebUI's page loads (our load event runs inside WebUI's own page)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

PREFIX = "/model-workbench/v1"
PROJECT = "webui-tier-train-tab"


@pytest.fixture(scope="module")
def project(webui_server):
    url, _ = webui_server
    data_dir = Path(httpx.get(url + PREFIX + "/status", timeout=30).json()["data_dir"])
    created = httpx.post(url + PREFIX + "/projects", json={"name": PROJECT}, timeout=30)
    assert created.status_code == 200, created.text
    yield url, data_dir
    shutil.rmtree(data_dir / "projects" / PROJECT, ignore_errors=True)


def test_training_routes_answer_inside_webui(project):
    url, data_dir = project
    assert (data_dir / "projects" / PROJECT / "dataset").is_dir()
    assert httpx.post(url + PREFIX + "/projects", json={"name": PROJECT}, timeout=30).status_code == 409
    status = httpx.get(url + PREFIX + "/train/status", timeout=30).json()
    assert status["state"] in ("idle", "finished", "interrupted", "failed")
    preview = httpx.post(url + PREFIX + "/preview", json={"project": PROJECT, "version": "none", "weights": "1",
                                                          "prompt": "x"}, timeout=60)
    assert preview.status_code == 400 and "no version named" in preview.json()["detail"]


def test_train_tab_is_filled_when_webui_loads(project, webui_kind):
    url, data_dir = project
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, timeout=120_000)
            page.locator("#tabs > .tab-nav button", has_text="Train Tools").first.click(timeout=120_000)
            project_box = page.locator("#mw_train_project input").first
            # The tab opens on the first project on disk: ours, or one the WebUI under test already had.
            expect(project_box).not_to_have_value("", timeout=60_000)
            on_disk = {p.name for p in (data_dir / "projects").iterdir() if p.is_dir()}
            assert PROJECT in on_disk and project_box.input_value() in on_disk
            expect(page.locator("#mw_train_upload")).to_be_visible()
            assert page.evaluate("typeof window.modelWorkbench.trainPreview") == "function"
            notice = page.locator("#mw_train_notice").first.inner_text()
            assert "needs" not in notice.lower()  # never "needs WebUI" inside a WebUI
            if webui_kind == "forge":  # the banner names the host and what it lacks
                assert "Running in Stable Diffusion WebUI Forge" in notice and "Textual Inversion" in notice
            if os.environ.get("MW_SCREENSHOT_DIR"):
                page.screenshot(path=str(Path(os.environ["MW_SCREENSHOT_DIR"]) / f"{webui_kind}-train-tab.png"))
        finally:
            browser.close()
