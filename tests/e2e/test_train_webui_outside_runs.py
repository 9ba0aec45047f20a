"""Issue 13, "Runs made outside the tab", in a real browser: runs WebUI's own Train tab left in its log
folder (made here with the tiny trainer double, in WebUI's layout and file formats) are listed on the
Train Tools tab after a refresh, gridded by step with the baseline column, and a chosen step published
into the host's hypernetworks / embeddings folder (a different file already there only when confirmed);
the standalone app, which has no such folder, says why."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from model_workbench.training.webui_kinds import (
    EmbeddingFields,
    HypernetworkFields,
    VersionKind,
    WebuiTrainingFields,
    WebuiTrainRequest,
)
from tests.e2e.test_train_tab import RENDER_TIMEOUT, STEP_TIMEOUT, field, sub_tab, tab_button
from tests.e2e.test_train_webui_kinds import grid_settings
from tests.support.tiny_dataset import COLOURS, square_image
from tests.support.tiny_diffusion import TinyDiffusionModel
from tests.support.tiny_webui_trainer import TEMPLATES, train

OUTSIDE_TAB = "Runs made outside the tab"


def webui_run(log_dir, data_dir, kind: VersionKind, name: str) -> list:
    """A run as WebUI's own Train tab leaves it: ``<log dir>/<date>/<name>/<kind>s/<name>-<step>.pt``
    (steps 2 and 4), trained by the tiny host's stand-in for WebUI's trainer on the tiny model."""
    if not data_dir.is_dir():
        data_dir.mkdir(parents=True)
        for i in range(2):
            square_image(COLOURS[i]).save(data_dir / f"photo{i}.png")
            (data_dir / f"photo{i}.txt").write_text("square", encoding="utf-8")
    training = WebuiTrainingFields(learn_rate="0.05", steps=4, save_every=2, width=64, height=64)
    fields = EmbeddingFields(name, init_text="dog", training=training) if kind is VersionKind.EMBEDDING \
        else HypernetworkFields(name, training=training)
    return train(TinyDiffusionModel(seed=0), WebuiTrainRequest(kind, fields, data_dir, log_dir),
                 TEMPLATES["subject_filewords.txt"], "tiny", None, lambda: False)


def choose_run(page, name: str) -> None:
    box = page.locator("#mw_train_outside_run input").first
    box.click()
    box.fill(name)  # filters the list; the label goes on with kind and steps, so pick the offered one
    page.locator("#mw_train_outside_run li", has_text=name).first.click()
    expect(page.locator("#mw_train_outside_steps").first).to_contain_text(f"{name}-4.pt", timeout=STEP_TIMEOUT)


def newest_manifest(root) -> dict:
    manifests = sorted((root / "data" / "webui_runs" / "grids").glob("*.json"), key=lambda p: p.stat().st_mtime)
    assert manifests
    return json.loads(manifests[-1].read_text(encoding="utf-8"))


def test_runs_of_webuis_train_tab_are_listed_gridded_and_published(page, tiny_app, screenshot):
    url, root = tiny_app
    log_dir = root / "textual_inversion"  # the tiny host's webui_training_log_dir()
    page.goto(url)
    tab_button(page, "Train Tools").click()
    grid_settings(page)  # steps, size and seed of every grid on the tab, the outside runs' included
    sub_tab(page, OUTSIDE_TAB)
    expect(page.locator("#mw_train_outside_note").first).to_contain_text("No training runs", timeout=STEP_TIMEOUT)

    hyp = webui_run(log_dir, root / "dataset", VersionKind.HYPERNETWORK, "outhyp")
    emb = webui_run(log_dir, root / "dataset", VersionKind.EMBEDDING, "outemb")
    date = hyp[0].path.parent.parent.parent.name
    page.locator("#mw_train_outside_refresh").click()
    expect(page.locator("#mw_train_outside_run input").first).to_have_value(f"{date} · outemb · Embedding · 2 steps",
                                                                          timeout=STEP_TIMEOUT)

    # A hypernetwork run: its steps, then steps × strengths with strength 0 as the first column.
    choose_run(page, "outhyp")
    expect(page.locator("#mw_train_outside_steps tr")).to_have_count(3)  # header + steps 2 and 4
    expect(page.locator("#mw_train_outside_weights")).to_be_visible()
    field(page, "mw_train_outside_weights").fill("0.5, 1")
    field(page, "mw_train_outside_prompt").fill("a square")
    page.locator("#mw_train_outside_grid_run").click()
    expect(page.locator("#mw_train_outside_progress").first).to_contain_text(f"{date}-outhyp-grid",
                                                                            timeout=RENDER_TIMEOUT)
    expect(page.locator("#mw_train_outside_image img")).to_be_visible(timeout=STEP_TIMEOUT)
    manifest = newest_manifest(root)
    assert manifest["axes"]["x"]["labels"][0] == "no hypernetwork"
    assert len(manifest["axes"]["y"]["labels"]) == 2  # one row per saved step
    assert any(cell.get("baseline") for cell in manifest["cells"])
    screenshot(page, "webui-outside-hypernetwork-grid")

    # Publish its last step into the hypernetworks folder.
    expect(page.locator("#mw_train_outside_publish_step input").first).to_have_value("outhyp-4.pt")
    page.locator("#mw_train_outside_publish").click()
    status = page.locator("#mw_train_outside_publish_status").first
    expect(status).to_contain_text("Published as", timeout=STEP_TIMEOUT)
    expect(status).to_contain_text("<hypernet:outhyp:1>")
    published = root / "models" / "hypernetworks" / "outhyp.pt"
    assert published.read_bytes() == hyp[-1].path.read_bytes()
    assert (root / "models" / "hypernetworks" / "outhyp.preview.png").is_file()  # the grid's cell of that step

    # An embedding run: steps × prompts, "no embedding" first; published under its trigger word.
    choose_run(page, "outemb")
    expect(page.locator("#mw_train_outside_weights")).to_be_hidden()
    expect(page.locator("#mw_train_outside_template")).to_be_visible()  # its prompts when none are typed
    field(page, "mw_train_outside_prompt").fill("outemb, square")
    page.locator("#mw_train_outside_grid_run").click()
    expect(page.locator("#mw_train_outside_progress").first).to_contain_text(f"{date}-outemb-grid",
                                                                            timeout=RENDER_TIMEOUT)
    manifest = newest_manifest(root)
    assert manifest["axes"]["x"]["labels"][0] == "no embedding"
    assert any(cell.get("baseline") for cell in manifest["cells"])
    screenshot(page, "webui-outside-embedding-grid")
    page.locator("#mw_train_outside_publish").click()
    expect(status).to_contain_text("Use it in a prompt by writing outemb", timeout=STEP_TIMEOUT)
    target = root / "embeddings" / "outemb.pt"
    assert target.read_bytes() == emb[-1].path.read_bytes()

    # An earlier step over the published one: refused until the user confirms replacing it.
    page.locator("#mw_train_outside_publish_step input").first.fill("outemb-2.pt")
    page.keyboard.press("Enter")
    page.locator("#mw_train_outside_publish").click()
    expect(status).to_contain_text("already exists", timeout=STEP_TIMEOUT)
    assert target.read_bytes() == emb[-1].path.read_bytes()
    screenshot(page, "webui-outside-publish-confirm")
    page.locator("#mw_train_outside_overwrite input").first.check()
    page.locator("#mw_train_outside_publish").click()
    expect(status).to_contain_text("Published as", timeout=STEP_TIMEOUT)
    assert target.read_bytes() == emb[0].path.read_bytes()


def test_the_standalone_app_says_why_it_lists_no_outside_runs(page, plain_app, screenshot):
    url, _ = plain_app
    page.goto(url)
    tab_button(page, "Train Tools").click()
    sub_tab(page, OUTSIDE_TAB)
    expect(page.locator("#mw_train_outside_note").first).to_contain_text("WebUI", timeout=STEP_TIMEOUT)
    expect(page.locator("#mw_train_outside_grid_run")).to_be_hidden()
    screenshot(page, "webui-outside-standalone")
