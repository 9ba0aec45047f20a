"""e2e tier: the tabs served by gradio, driven in Debian's headless Chromium through Playwright; the apps the train
tests share (`tiny_app` over the tiny torch host, `plain_app` the real standalone app; a module may define its own)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.app_server import AppServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium for the e2e tests (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _served(root: Path, module: str = "model_workbench"):
    return AppServer(["--models-dir", str(root / "models"), "--data-dir", str(root / "data")],
                     log_path=root / "server.log", module=module)


@pytest.fixture(scope="module")
def tiny_app(tmp_path_factory, request):
    """The app over the tiny torch host (it trains and renders), one per test module: (url, its root folder)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    (root / "models" / "Lora").mkdir(parents=True)
    with _served(root, module="tests.support.serve_tiny") as url:
        yield url, root


@pytest.fixture(scope="module")
def plain_app(tmp_path_factory, request):
    """The real standalone app (no WebUI: neither of WebUI's trainers), one per test module: (url, its root)."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1] + "-plain")
    with _served(root) as url:
        yield url, root


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(tmp_path):
    """Save a full-page screenshot under the test's tmp dir (and MW_SCREENSHOT_DIR when set)."""

    def take(page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get("MW_SCREENSHOT_DIR")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    return take
