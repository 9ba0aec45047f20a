"""The standalone app in Chinese: labels, the Sort/Period choices and the core's own sentences."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer


@pytest.fixture(scope="module")
def chinese_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("standalone-zh")
    with AppServer(["--models-dir", str(root / "models"), "--data-dir", str(root / "data"), "--lang", "zh_CN"],
                   log_path=root / "server.log") as url:
        yield url


def test_core_sentences_and_choices_are_shown_in_chinese(page, chinese_app, screenshot):
    page.goto(chinese_app)
    expect(page.locator("#mw_civitai_sort input").first).to_have_value("评分最高", timeout=30_000)
    expect(page.locator("#mw_civitai_period input").first).to_have_value("全部时间")
    screenshot(page, "civitai-zh")

    page.locator("button", has_text="训练工具").first.click()
    expect(page.locator("#mw_train_notice").first).to_contain_text("生成图片、训练和打标签需要", timeout=20_000)
    expect(page.locator("#mw_train_tag_mode")).to_contain_text("跳过已标注")
    # The page load fills the project line first ("No projects yet"); act after it, or it overwrites the answer.
    expect(page.locator("#mw_train_project_status").first).to_contain_text("还没有项目", timeout=30_000)
    page.locator("#mw_train_new_project input, #mw_train_new_project textarea").first.fill("bad/name")
    page.locator("#mw_train_create_project").click()
    # Raised by the core in English ("The project name must not contain '/'…"), shown translated.
    expect(page.locator("#mw_train_project_status").first).to_contain_text("项目名称不能包含 '/'", timeout=20_000)
    screenshot(page, "train-zh-error")
