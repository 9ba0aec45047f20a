"""The base model in the Train tab (issue 14, item 2), in a browser over the tiny host with two tiny
checkpoints: the form shows the loaded checkpoint; choosing another loads it and the version records it;
a start whose base model is not loaded asks, and "Switch to … and train" switches and trains."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from model_workbench.training import projects
from tests.e2e.test_train_tab import (
    STEP_TIMEOUT,
    TRAIN_TIMEOUT,
    create_project,
    field,
    sub_tab,
    tab_button,
    upload_four,
)
from tests.support.app_server import AppServer

A, B = "tiny-a.safetensors", "tiny-b.safetensors"


@pytest.fixture(scope="module")
def two_checkpoints_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-base-model")
    (root / "models" / "Lora").mkdir(parents=True)
    with AppServer(["--models-dir", str(root / "models"), "--data-dir", str(root / "data")],
                   log_path=root / "server.log", module="tests.support.serve_tiny",
                   env={"MW_TINY_CHECKPOINTS": f"{A},{B}"}) as url:
        yield url, root


def choose(page, elem_id: str, text: str) -> None:
    """Pick an option of a gradio dropdown (3.41 and 4 both list the options as <li> inside it)."""
    page.locator(f"#{elem_id} input").first.click()
    page.locator(f"#{elem_id} li", has_text=text).first.click()


def use_base_model(page, name: str, version: str) -> None:
    choose(page, "mw_train_base_model", name)
    page.locator("#mw_train_use_base_model").click()
    expect(page.locator("#mw_train_base_model_status").first).to_contain_text(
        f"is loaded and saved as the base model of {version}", timeout=STEP_TIMEOUT)


def test_the_form_shows_the_loaded_checkpoint_and_a_start_switches_to_the_versions(page, two_checkpoints_app,
                                                                                   screenshot, tmp_path):
    url, root = two_checkpoints_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    create_project(page, "basecat")
    upload_four(page, tmp_path, "basecat")
    sub_tab(page, "Train")
    status = page.locator("#mw_train_base_model_status").first
    expect(status).to_contain_text(f"The training uses the loaded checkpoint, {A} [", timeout=STEP_TIMEOUT)
    expect(field(page, "mw_train_base_model")).to_have_value(re.compile(rf"^{re.escape(A)} \["))

    # v1 on B: loaded through the host and recorded with the hash computed while loading.
    use_base_model(page, B, "v1")
    expect(status).to_contain_text(f"This version trains on {B} [")
    stored = projects.read_version_config(root / "data", "basecat", "v1")
    assert stored["base_model"] == B and len(stored["base_model_sha256"]) == 64

    # v2 on A: A is loaded again, so starting v1 asks to switch.
    page.locator("#mw_train_manage").get_by_text("Versions, renaming and deleting").click()
    field(page, "mw_train_new_version").fill("v2")
    page.locator("#mw_train_create_version").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text("Version v2 created", timeout=STEP_TIMEOUT)
    use_base_model(page, A, "v2")
    choose(page, "mw_train_version", "v1")
    expect(status).to_contain_text(f"This version trains on {B} [", timeout=STEP_TIMEOUT)
    expect(status).to_contain_text(f"but {A} [")

    field(page, "mw_train_cfg_resolution").fill("64")
    for elem_id, value in (("network_dim", "4"), ("network_alpha", "4"), ("max_train_epochs", "1"),
                           ("train_batch_size", "4"), ("seed", "3")):
        field(page, f"mw_train_cfg_{elem_id}").fill(value)
    page.locator("#mw_train_start").click()
    expect(page.locator("#mw_train_form_status").first).to_contain_text(f"basecat / v1 trains on {B} [",
                                                                         timeout=STEP_TIMEOUT)
    switch = page.locator("#mw_train_switch_train")
    expect(switch).to_be_visible()
    expect(switch).to_contain_text(f"Switch to {B} [")
    screenshot(page, "train-base-model-question")
    switch.click()
    expect(page.locator("#mw_train_progress").first).to_contain_text("Finished", timeout=TRAIN_TIMEOUT)
    expect(switch).to_be_hidden()
    expect(status).to_contain_text(f"This version trains on {B} [", timeout=STEP_TIMEOUT)
    expect(status).to_contain_text("the loaded checkpoint")
    screenshot(page, "train-base-model-trained")
