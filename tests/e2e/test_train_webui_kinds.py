"""Issue 13 in a real browser: a version of kind Embedding and one of kind Hypernetwork, created on the
Train Tools tab, trained for a few steps with WebUI's trainer as the tiny host mirrors it, their steps
listed as checkpoint rows, and a fixed-seed grid of each with its baseline column; and the standalone
app (no WebUI) keeps both kinds on offer, marked unavailable with its reason."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.test_train_tab import (
    RENDER_TIMEOUT,
    STEP_TIMEOUT,
    TRAIN_TIMEOUT,
    create_project,
    field,
    sub_tab,
    tab_button,
)
from tests.support.tiny_dataset import COLOURS, square_image


def choose_kind(page, label: str) -> None:
    if not page.locator("#mw_train_new_version_kind").is_visible():  # the accordion is closed at first
        page.locator("#mw_train_manage").get_by_text("Versions, renaming and deleting").first.click()
    page.locator("#mw_train_new_version_kind label", has_text=label).first.click()


def create_version(page, name: str, kind: str) -> None:
    choose_kind(page, kind)
    field(page, "mw_train_new_version").fill(name)
    page.locator("#mw_train_create_version").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text(f"Version {name} created",
                                                                             timeout=STEP_TIMEOUT)


def add_images(page, tmp_path, concept: str) -> None:
    images = []
    for i in range(4):
        path = tmp_path / f"photo{i}.png"
        square_image(COLOURS[i]).save(path)
        images.append(str(path))
    sub_tab(page, "Dataset")
    field(page, "mw_train_concept_name").fill(concept)
    field(page, "mw_train_repeats").fill("1")
    page.locator("#mw_train_upload input[type=file]").set_input_files(images)
    expect(page.locator("#mw_train_dataset_status").first).to_contain_text("4 images added", timeout=30_000)
    page.locator("#mw_train_tag_run").click()
    expect(page.locator("#mw_train_dataset_status").first).to_contain_text("4 images tagged", timeout=30_000)


def train_webui(page, learn_rate: str, screenshot, name: str) -> None:
    """Fill the kind's form small and quick, start, and wait for the run to finish."""
    sub_tab(page, "Train")
    expect(page.locator("#mw_train_webui_form")).to_be_visible(timeout=STEP_TIMEOUT)
    expect(page.locator("#mw_train_lora_form")).to_be_hidden()
    for elem_id, value in (("learn_rate", learn_rate), ("width", "64"), ("height", "64"), ("steps", "4"),
                           ("save_every", "2"), ("batch_size", "2")):
        field(page, f"mw_train_webui_{elem_id}").fill(value)
    page.locator("#mw_train_start").click()
    expect(page.locator("#mw_train_progress").first).to_contain_text("Finished", timeout=TRAIN_TIMEOUT)
    screenshot(page, name)


def grid_settings(page) -> None:
    sub_tab(page, "Preview grid")
    for elem_id, value in (("mw_train_grid_steps", "4"), ("mw_train_grid_width", "64"),
                           ("mw_train_grid_height", "64"), ("mw_train_grid_seed", "42")):
        field(page, elem_id).fill(value)


def test_an_embedding_and_a_hypernetwork_are_trained_and_their_steps_compared(page, tiny_app, screenshot, tmp_path):
    url, root = tiny_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text("No projects yet", timeout=60_000)
    create_project(page, "tinydog")
    add_images(page, tmp_path, "tinydog")

    # An embedding version: WebUI's own fields, its name is the trigger word.
    create_version(page, "emb", "Embedding")
    sub_tab(page, "Train")
    expect(page.locator("#mw_train_start")).to_contain_text("Train Embedding", timeout=STEP_TIMEOUT)
    field(page, "mw_train_webui_name").fill("tinydogemb")
    field(page, "mw_train_webui_init_text").fill("dog")
    train_webui(page, "0.05", screenshot, "webui-kinds-embedding-trained")
    config = json.loads((root / "data" / "projects" / "tinydog" / "versions" / "emb" / "config.json").read_text())
    assert config["kind"] == "embedding"

    # Its steps are the checkpoints: one row per saved step, each with its Preview button.
    sub_tab(page, "Checkpoints")
    table = page.locator("#mw_train_checkpoints").first
    expect(table.locator("tr")).to_have_count(3, timeout=STEP_TIMEOUT)  # header + steps 2 and 4
    expect(table.get_by_role("button", name="Preview")).to_have_count(2)
    screenshot(page, "webui-kinds-embedding-steps")

    # Steps × prompts, the baseline (no embedding) its own column.
    grid_settings(page)
    field(page, "mw_train_grid_prompt").fill("tinydogemb, square\ntinydogemb, round")
    page.locator("#mw_train_grid_run").click()
    expect(page.locator("#mw_train_grid_progress").first).to_contain_text("tinydog_emb-grid", timeout=RENDER_TIMEOUT)
    expect(page.locator("#mw_train_grid_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    manifest = newest_manifest(root, "tinydog")
    assert any(cell.get("baseline") for cell in manifest["cells"])
    screenshot(page, "webui-kinds-embedding-grid")

    # A hypernetwork version: WebUI's create fields, steps × strengths with strength 0 as the baseline.
    create_version(page, "hyp", "Hypernetwork")
    sub_tab(page, "Train")
    expect(page.locator("#mw_train_start")).to_contain_text("Train Hypernetwork", timeout=STEP_TIMEOUT)
    expect(page.locator("#mw_train_webui_layer_structure")).to_be_visible()
    field(page, "mw_train_webui_name").fill("tinydoghyp")
    train_webui(page, "0.01", screenshot, "webui-kinds-hypernetwork-trained")
    sub_tab(page, "Checkpoints")
    expect(page.locator("#mw_train_checkpoints").first.locator("tr")).to_have_count(3, timeout=STEP_TIMEOUT)
    grid_settings(page)
    field(page, "mw_train_weights").fill("0.5, 1")
    page.locator("#mw_train_grid_run").click()
    expect(page.locator("#mw_train_grid_progress").first).to_contain_text("tinydog_hyp-grid", timeout=RENDER_TIMEOUT)
    expect(page.locator("#mw_train_grid_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    manifest = newest_manifest(root, "tinydog")
    assert manifest["axes"]["x"]["labels"][0] == "no hypernetwork"
    assert any(cell.get("baseline") for cell in manifest["cells"])
    screenshot(page, "webui-kinds-hypernetwork-grid")

    # Publish its last step, then an earlier one over it: replaced only once the user confirms.
    sub_tab(page, "Publish")
    expect(page.locator("#mw_train_publish_checkpoint input").first).to_have_value("tinydoghyp-4.pt",
                                                                                 timeout=STEP_TIMEOUT)
    page.locator("#mw_train_publish").click()
    status = page.locator("#mw_train_publish_status").first
    expect(status).to_contain_text("Published as", timeout=STEP_TIMEOUT)
    published = root / "models" / "hypernetworks" / "tinydoghyp.pt"
    steps = root / "data" / "projects" / "tinydog" / "versions" / "hyp" / "webui_log"
    step2, step4 = (next(steps.rglob(f"tinydoghyp-{n}.pt")) for n in (2, 4))
    assert published.read_bytes() == step4.read_bytes()
    page.locator("#mw_train_publish_checkpoint input").first.fill("tinydoghyp-2.pt")
    page.keyboard.press("Enter")
    page.locator("#mw_train_publish").click()
    expect(status).to_contain_text("already exists", timeout=STEP_TIMEOUT)
    assert published.read_bytes() == step4.read_bytes()
    page.locator("#mw_train_publish_overwrite input").first.check()
    page.locator("#mw_train_publish").click()
    expect(status).to_contain_text("Published as", timeout=STEP_TIMEOUT)
    assert published.read_bytes() == step2.read_bytes()
    screenshot(page, "webui-kinds-hypernetwork-published")

    # Back on the embedding version, the form shows what was saved with it.
    page.locator("#mw_train_version input").first.fill("emb")
    page.keyboard.press("Enter")
    sub_tab(page, "Train")
    expect(field(page, "mw_train_webui_name")).to_have_value("tinydogemb", timeout=STEP_TIMEOUT)
    expect(field(page, "mw_train_webui_init_text")).to_have_value("dog")


def newest_manifest(root, project: str) -> dict:
    manifests = sorted((root / "data" / "projects" / project / "grids").glob("*.json"), key=lambda p: p.stat().st_mtime)
    assert manifests
    return json.loads(manifests[-1].read_text(encoding="utf-8"))


def test_the_standalone_app_offers_both_kinds_as_unavailable_with_its_reason(page, plain_app, screenshot):
    url, _ = plain_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    create_project(page, "plainkinds")
    choose_kind(page, "Embedding")
    notice = page.locator("#mw_train_kinds_unavailable").first
    expect(notice).to_contain_text("Embedding: unavailable here. Training an embedding needs Stable Diffusion WebUI")
    expect(notice).to_contain_text("Hypernetwork: unavailable here. Training a hypernetwork needs Stable Diffusion WebUI")
    expect(page.locator("#mw_train_new_version_kind")).to_contain_text("Hypernetwork (unavailable)")
    field(page, "mw_train_new_version").fill("emb")
    page.locator("#mw_train_create_version").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text("Training an embedding needs Stable Diffusion WebUI",
                                                                             timeout=STEP_TIMEOUT)
    screenshot(page, "webui-kinds-unavailable")
