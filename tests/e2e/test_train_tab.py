"""The issue's flow in a real browser over the tiny torch host: create a project, upload four images,
tag them, train two epochs, preview one checkpoint, preview all (a 2 × 4 labelled grid with its
manifest: the baseline and three weights), compare two versions and publish one; and a training whose
"Preview when done" is on shows its grid when it ends, without a click."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.support.tiny_dataset import COLOURS, square_image

TRAIN_TIMEOUT = 150_000
RENDER_TIMEOUT = 90_000
STEP_TIMEOUT = 20_000  # a quick UI update, with room for a loaded CI box


def field(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def tab_button(scope, label: str):
    """A tab's button: role "tab" in gradio 4, a plain button in the tab bar in gradio 3.41."""
    by_role = scope.get_by_role("tab", name=label, exact=True)
    return by_role if by_role.count() else scope.locator(".tab-nav button").get_by_text(label, exact=True).first


def sub_tab(page, label: str) -> None:
    tab_button(page.locator("#mw_train_tabs"), label).click()


def train(page, screenshot=None, sample: str = "") -> None:
    sub_tab(page, "Train")
    if sample:
        field(page, "mw_train_cfg_sample_prompts").fill(sample)
        field(page, "mw_train_cfg_sample_every_n_epochs").fill("1")
    field(page, "mw_train_cfg_resolution").fill("64")
    for elem_id, value in (("network_dim", "4"), ("network_alpha", "4"), ("learning_rate", "0.05"),
                           ("max_train_epochs", "2"), ("train_batch_size", "4")):
        field(page, f"mw_train_cfg_{elem_id}").fill(value)
    field(page, "mw_train_cfg_seed").fill("3")
    page.locator("#mw_train_start").click()
    expect(page.locator("#mw_train_progress").first).to_contain_text("Finished", timeout=TRAIN_TIMEOUT)
    if sample:  # one sample image before the first step and one per epoch, shown under the loss plot
        expect(page.locator("#mw_train_samples img")).to_have_count(3, timeout=STEP_TIMEOUT)
    if screenshot:
        screenshot(page, "train-tab-trained")


def test_issue_flow(page, tiny_app, screenshot, tmp_path):
    url, root = tiny_app
    images = []
    for i in range(4):
        path = tmp_path / f"photo{i}.png"
        square_image(COLOURS[i]).save(path)
        images.append(str(path))

    page.goto(url)
    expect(page.locator("#tabs, #mw_tabs").first).to_be_visible(timeout=30_000)
    tab_button(page, "Train Tools").click()
    expect(page.locator("#mw_train_notice").first).not_to_contain_text("need Stable Diffusion WebUI", timeout=STEP_TIMEOUT)

    # The page-load event has filled the tab (nothing to show yet but a hint) before we act.
    expect(page.locator("#mw_train_project_status").first).to_contain_text("No projects yet", timeout=60_000)

    # Create a project: it comes with version v1.
    field(page, "mw_train_new_project").fill("tinycat")
    page.locator("#mw_train_create_project").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text("Project tinycat created",
                                                                             timeout=30_000)
    project_dir = root / "data" / "projects" / "tinycat"
    assert (project_dir / "versions" / "v1" / "config.json").is_file()

    # Upload four images into a concept folder with 2 repeats.
    field(page, "mw_train_concept_name").fill("tinycat")
    field(page, "mw_train_repeats").fill("2")
    page.locator("#mw_train_upload input[type=file]").set_input_files(images)
    expect(page.locator("#mw_train_dataset_status").first).to_contain_text("4 images added to tinycat",
                                                                            timeout=30_000)
    assert len(list((project_dir / "dataset" / "2_tinycat").glob("*.png"))) == 4

    # Tag them (the tiny host's "DeepBooru" names the colours).
    page.locator("#mw_train_tag_run").click()
    expect(page.locator("#mw_train_dataset_status").first).to_contain_text("4 images tagged", timeout=30_000)
    expect(page.locator("#mw_train_tag_table").first).to_contain_text("red background", timeout=STEP_TIMEOUT)
    captions = sorted(p.read_text() for p in (project_dir / "dataset" / "2_tinycat").glob("*.txt"))
    assert len(captions) == 4 and all(c.startswith("tinycat, ") for c in captions)
    # Edit one caption in the editor, then add a tag to every caption.
    page.locator("#mw_train_gallery button img").first.click()
    expect(field(page, "mw_train_selected_image")).to_have_value(re.compile(r"photo0\.png$"), timeout=STEP_TIMEOUT)
    field(page, "mw_train_caption").fill("tinycat, red background, edited")
    page.locator("#mw_train_save_caption").click()
    expect(page.locator("#mw_train_dataset_status").first).to_contain_text("Caption of photo0.png saved",
                                                                            timeout=STEP_TIMEOUT)
    assert (project_dir / "dataset" / "2_tinycat" / "photo0.txt").read_text().strip() == "tinycat, red background, edited"
    field(page, "mw_train_tags_add").fill("solo")
    page.locator("#mw_train_tags_add_run").click()
    expect(page.locator("#mw_train_tag_table").first).to_contain_text("solo 4", timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-dataset")

    # Train two epochs.
    train(page, screenshot, sample="tinycat, square")
    checkpoints = sorted((project_dir / "checkpoints").glob("*.safetensors"))
    assert [p.name for p in checkpoints] == ["tinycat_v1-000001.safetensors", "tinycat_v1-000002.safetensors"]
    expect(page.locator("#mw_train_loss svg polyline").first).to_be_attached(timeout=STEP_TIMEOUT)

    # Small, quick previews: settings on the Preview grid tab.
    sub_tab(page, "Preview grid")
    for elem_id, value in (("mw_train_grid_steps", "4"), ("mw_train_grid_width", "64"),
                           ("mw_train_grid_height", "64"), ("mw_train_grid_seed", "42")):
        field(page, elem_id).fill(value)
    field(page, "mw_train_grid_prompt").fill("tinycat, square")

    # Preview one checkpoint from its row.
    sub_tab(page, "Checkpoints")
    table = page.locator("#mw_train_checkpoints").first
    expect(table.locator("tr")).to_have_count(3, timeout=STEP_TIMEOUT)
    table.locator("tr", has_text="tinycat_v1-000001").get_by_role("button", name="Preview").click()
    expect(page.locator("#mw_train_ckpt_progress").first).to_contain_text("3 of 3 cells rendered",
                                                                           timeout=RENDER_TIMEOUT)
    expect(page.locator("#mw_train_ckpt_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-checkpoints")

    # Preview all (same seed): 2 epochs × (the baseline without the LoRA + 3 weights).
    sub_tab(page, "Preview grid")
    field(page, "mw_train_weights").fill("0.5, 1.0, 1.5")
    page.locator("#mw_train_grid_run").click()
    expect(page.locator("#mw_train_grid_progress").first).to_contain_text("8 of 8 cells rendered",
                                                                           timeout=RENDER_TIMEOUT)
    grid_image = page.locator("#mw_train_grid_image img")
    expect(grid_image).to_be_visible(timeout=STEP_TIMEOUT)
    manifests = sorted((project_dir / "grids").glob("tinycat_v1-grid-*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
    assert manifest["axes"]["x"]["labels"] == ["no LoRA", "weight 0.5", "weight 1", "weight 1.5"]
    assert manifest["axes"]["y"]["labels"] == ["epoch 1", "epoch 2"]
    assert manifest["complete"] and len(manifest["cells"]) == 8 and {c["seed"] for c in manifest["cells"]} == {42}
    assert Path(manifests[0].with_suffix(".png")).is_file()

    # Click the bottom-right cell: it is shown large with its parameters.
    cell = next(c for c in manifest["cells"] if (c["y"], c["x"]) == (1, 3))
    box = grid_image.bounding_box()
    left, top, right, bottom = cell["box"]
    scale = box["width"] / manifest["width"]
    grid_image.click(position={"x": (left + right) / 2 * scale, "y": (top + bottom) / 2 * scale})
    details = page.locator("#mw_train_grid_details").first
    expect(details).to_contain_text("epoch 2, weight 1.5", timeout=30_000)
    expect(details).to_contain_text("Seed: 42", timeout=STEP_TIMEOUT)
    expect(page.locator("#mw_train_grid_cell img")).to_be_visible(timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-grid")

    # A second version, trained the same way, then compared with the first.
    page.locator("#mw_train_manage").get_by_text("Versions, renaming and deleting").click()
    field(page, "mw_train_new_version").fill("v2")
    page.locator("#mw_train_create_version").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text("Version v2 created", timeout=STEP_TIMEOUT)
    train(page)
    sub_tab(page, "Compare")
    versions = page.locator("#mw_train_compare_versions")
    expect(versions).to_contain_text("v1", timeout=STEP_TIMEOUT)
    expect(versions).to_contain_text("v2", timeout=STEP_TIMEOUT)
    field(page, "mw_train_compare_prompt").fill("tinycat")
    field(page, "mw_train_compare_weights").fill("0.5, 1")
    page.locator("#mw_train_compare_run").click()
    expect(page.locator("#mw_train_compare_progress").first).to_contain_text("4 of 4 cells rendered",
                                                                              timeout=RENDER_TIMEOUT)
    expect(page.locator("#mw_train_compare_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-compare")

    # Publish the last checkpoint of v2.
    sub_tab(page, "Publish")
    expect(field(page, "mw_train_publish_checkpoint")).to_have_value("tinycat_v2-000002.safetensors", timeout=STEP_TIMEOUT)
    field(page, "mw_train_publish_weight").fill("0.8")
    page.locator("#mw_train_publish").click()
    expect(page.locator("#mw_train_publish_status").first).to_contain_text("Published as", timeout=30_000)
    installed = root / "models" / "Lora" / "tinycat" / "tinycat_v2-000002.safetensors"
    assert installed.is_file()
    meta = json.loads(installed.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["preferred weight"] == 0.8 and meta["activation text"] == "tinycat"
    assert installed.with_name("tinycat_v2-000002.preview.png").is_file()  # a cell of the comparison
    screenshot(page, "train-tab-publish")


def upload_four(page, tmp_path, concept: str) -> None:
    images = []
    for i in range(4):
        path = tmp_path / f"{concept}{i}.png"
        square_image(COLOURS[i]).save(path)
        images.append(str(path))
    # The refreshes a new project starts re-render the Dataset tab: an upload must wait for them.
    expect(page.locator("#mw_train_dataset_status").first).not_to_contain_text("processing", timeout=30_000)
    field(page, "mw_train_concept_name").fill(concept)
    field(page, "mw_train_repeats").fill("1")
    page.locator("#mw_train_upload input[type=file]").set_input_files(images)
    expect(page.locator("#mw_train_dataset_status").first).to_contain_text(f"4 images added to {concept}",
                                                                            timeout=30_000)


def create_project(page, name: str) -> None:
    # The page load is done when it has said "No projects yet" or selected a project.
    page.wait_for_function("""() => {
        const status = document.querySelector('#mw_train_project_status');
        const project = document.querySelector('#mw_train_project input');
        return (status && status.innerText.trim() !== '') || (project && project.value !== '');
    }""", timeout=60_000)
    field(page, "mw_train_new_project").fill(name)
    page.locator("#mw_train_create_project").click()
    expect(page.locator("#mw_train_project_status").first).to_contain_text(f"Project {name} created",
                                                                             timeout=30_000)


def test_status_lines_follow_the_run_and_a_reload_shows_its_real_state(page, tiny_app, screenshot, tmp_path):
    """Issue 10, item 8: "Training started" does not stay beside "Finished", and a reloaded page shows
    how the last run ended instead of "No training has run since the app started"."""
    url, _ = tiny_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    create_project(page, "reloadcat")  # sorts before tinycat: the reloaded page selects it
    upload_four(page, tmp_path, "reloadcat")
    train(page)
    expect(page.locator("#mw_train_form_status").first).not_to_contain_text("Training started", timeout=STEP_TIMEOUT)
    expect(page.locator("#mw_train_project_status").first).not_to_contain_text("Project reloadcat created")
    screenshot(page, "train-tab-finished")

    page.reload()
    tab_button(page, "Train Tools").click()
    sub_tab(page, "Train")
    progress = page.locator("#mw_train_progress").first
    expect(progress).to_contain_text("Finished", timeout=30_000)
    expect(progress).to_contain_text("reloadcat / v1")
    expect(progress).to_contain_text("Training finished: 2 checkpoints")
    expect(progress).not_to_contain_text("No training has run")
    expect(field(page, "mw_train_log")).to_have_value(re.compile("Training finished"), timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-after-reload")


def test_a_sweep_of_two_rates_and_two_ranks_trains_four_versions_in_the_queue_then_compares_them(
        page, tiny_app, screenshot, tmp_path):
    """Issue 14, item 3: several values in a field make one version per combination, trained one after
    another in the queue, and one click compares them."""
    url, root = tiny_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    create_project(page, "sweepcat")
    upload_four(page, tmp_path, "sweepcat")
    sub_tab(page, "Preview grid")  # small, quick comparison cells
    for elem_id, value in (("mw_train_grid_steps", "4"), ("mw_train_grid_width", "64"),
                           ("mw_train_grid_height", "64")):
        field(page, elem_id).fill(value)

    sub_tab(page, "Train")
    field(page, "mw_train_cfg_resolution").fill("64")
    for elem_id, value in (("network_alpha", "4"), ("max_train_epochs", "1"), ("train_batch_size", "4"),
                           ("seed", "3"), ("network_dim", "2, 4"), ("learning_rate", "0.01, 0.05")):
        field(page, f"mw_train_cfg_{elem_id}").fill(value)
    names = ["v1-lr0.01-dim2", "v1-lr0.01-dim4", "v1-lr0.05-dim2", "v1-lr0.05-dim4"]
    expect(page.locator("#mw_train_sweep_plan").first).to_contain_text(
        "4 versions will be trained: " + ", ".join(names), timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-sweep-plan")
    page.locator("#mw_train_start").click()
    expect(page.locator("#mw_train_form_status").first).to_contain_text("4 versions queued", timeout=STEP_TIMEOUT)
    queue = page.locator("#mw_train_queue").first
    expect(queue.locator("tr[data-state=finished]")).to_have_count(4, timeout=TRAIN_TIMEOUT)
    for name in names:
        expect(queue).to_contain_text(f"sweepcat / {name}")
    checkpoints = root / "data" / "projects" / "sweepcat" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("*.safetensors")) == [f"sweepcat_{n}-000001.safetensors"
                                                                         for n in names]
    config = json.loads((root / "data" / "projects" / "sweepcat" / "versions" / names[2] / "config.json").read_text())
    assert (config["learning_rate"], config["network_dim"]) == (0.05, 2)
    screenshot(page, "train-tab-queue")

    page.locator("#mw_train_queue_compare").click()
    sub_tab(page, "Compare")
    expect(page.locator("#mw_train_compare_progress").first).to_contain_text("4 of 4 cells rendered",
                                                                              timeout=RENDER_TIMEOUT)
    expect(page.locator("#mw_train_compare_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    manifest = sorted((root / "data" / "projects" / "sweepcat" / "grids").glob("compare-*.json"))[-1]
    cells = json.loads(manifest.read_text(encoding="utf-8"))["cells"]
    assert len(cells) == 4 and all(name in json.dumps(cells) for name in names)
    screenshot(page, "train-tab-sweep-compare")


def test_a_host_that_cannot_train_or_tag_says_so_before_anything_starts(page, plain_app, screenshot):
    url, _ = plain_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    create_project(page, "plain")
    tag = page.locator("#mw_train_tag_run")
    expect(tag).to_be_disabled()
    expect(page.locator("#mw_train_tag_unavailable").first).to_contain_text("Tagging images needs Stable Diffusion WebUI")
    screenshot(page, "train-tab-cannot-tag")
    sub_tab(page, "Train")
    expect(page.locator("#mw_train_start")).to_be_disabled()
    expect(page.locator("#mw_train_resume")).to_be_disabled()
    expect(page.locator("#mw_train_unavailable").first).to_contain_text("Training a LoRA needs Stable Diffusion WebUI")
    screenshot(page, "train-tab-cannot-train")
    # The API refuses too, before anything runs: no "running" that fails a second later.
    answer = httpx.post(url + "/model-workbench/v1/train", json={"project": "plain", "version": "v1"}, timeout=10)
    assert answer.status_code == 409 and "Training a LoRA needs" in answer.json()["detail"]
    assert httpx.get(url + "/model-workbench/v1/train/status", timeout=10).json()["state"] == "idle"


def test_preview_when_done_shows_the_grid_after_training_without_a_click(page, tiny_app, screenshot, tmp_path):
    """Issue 14, item 1: the Train form's "Preview when done" group renders the grid of the run's
    checkpoints when the training ends (the baseline first) and both tabs show it without a click."""
    url, root = tiny_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    create_project(page, "zdone")  # sorts after the others: the reload test still selects its own
    upload_four(page, tmp_path, "zdone")
    sub_tab(page, "Train")
    page.locator("#mw_train_after").get_by_text("Preview when done").first.click()
    page.locator("#mw_train_after_enabled input").check()
    for elem_id, value in (("weights", "0.5, 1"), ("prompts", "zdone, square"), ("steps", "3"), ("seed", "5")):
        field(page, f"mw_train_after_{elem_id}").fill(value)
    # Width and height stay 0: the training resolution (64).
    train(page)
    progress = page.locator("#mw_train_after_progress").first
    expect(progress).to_contain_text("Preview grid saved", timeout=STEP_TIMEOUT)
    expect(progress).to_contain_text("6 of 6 cells")
    expect(page.locator("#mw_train_after_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    project_dir = root / "data" / "projects" / "zdone"
    manifests = sorted((project_dir / "grids").glob("zdone_v1-grid-*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
    assert manifest["axes"]["x"]["labels"] == ["no LoRA", "weight 0.5", "weight 1"]
    assert manifest["axes"]["y"]["labels"] == ["epoch 1", "epoch 2"] and manifest["complete"]
    assert {c["request"]["width"] for c in manifest["cells"]} == {64}
    stored = json.loads((project_dir / "versions" / "v1" / "config.json").read_text(encoding="utf-8"))
    assert stored["preview_after_training"]["enabled"] is True and stored["preview_after_training"]["seed"] == 5
    status = httpx.get(url + "/model-workbench/v1/train/status", timeout=10).json()
    assert status["preview"]["state"] == "done" and status["preview"]["grid"] == str(manifests[0].with_suffix(".png"))
    screenshot(page, "train-tab-preview-when-done")
    # The Preview grid tab shows the same grid, also without a click on Preview all.
    sub_tab(page, "Preview grid")
    expect(page.locator("#mw_train_grid_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    screenshot(page, "train-tab-preview-when-done-grid-tab")
