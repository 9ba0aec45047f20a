"""Embeddings and hypernetworks by WebUI's own trainers inside a real WebUI v1.10.1 on the CPU.

An embedding version is created and trained through the tab's HTTP API (WebUI's ``train_embedding`` on
the project's dataset); its steps are listed, a steps × prompts grid shows cells that differ by step and
a baseline column equal to plain txt2img of the prompt without the word; WebUI's embedding list does not
show it until it is published, then does. A hypernetwork version is trained the same way (its width
is the tiny checkpoint's cross-attention width, 64): a steps × strengths grid shows strength 0 equal to plain
txt2img and steps that differ, the published step appears in ``/sdapi/v1/hypernetworks``, and a run in
WebUI's own Train-tab layout is listed among WebUI's runs and gridded the same way. A fixed-seed txt2img gives the same pixels before and after (the loaded
model is unchanged).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from model_workbench.training import projects
from model_workbench.training.previews import cell_image
from tests.support.tiny_dataset import make_concept_folder
from tests.webui.test_training_in_webui import wait_for_our_routes, wait_for_training

API = "/model-workbench/v1"
PROJECT = f"webui-kinds-{os.getpid()}"
WORD = f"mwtier{os.getpid()}"
HYPERNET = f"mwtierhn{os.getpid()}"
RENDER = {"seed": 321, "steps": 3, "width": 64, "height": 64, "sampler_name": "Euler", "cfg_scale": 5}
TRAIN = {"steps": 4, "save_every": 2, "learn_rate": "0.5", "width": 64, "height": 64, "batch_size": 1,
         "template_file": "subject_filewords.txt"}


def txt2img(url: str, prompt: str) -> np.ndarray:
    response = httpx.post(url + "/sdapi/v1/txt2img", json={**RENDER, "prompt": prompt, "negative_prompt": ""},
                          timeout=300)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))).convert("RGB"))


def grid_cells(body: dict) -> list[tuple[dict, np.ndarray]]:
    manifest = json.loads(Path(body["manifest"]).read_text(encoding="utf-8"))
    assert manifest["complete"], manifest
    return [(entry, np.asarray(cell_image(body["manifest"], entry))) for entry in manifest["cells"]]


@pytest.fixture(scope="module")
def webui(webui_server, webui_dir):
    url, log_path = webui_server
    status = wait_for_our_routes(url)
    assert status.status_code == 200, status.text
    data_dir = Path(status.json()["data_dir"])
    assert httpx.post(url + API + "/projects", json={"name": PROJECT}, timeout=30).status_code == 200
    paths = projects.project_paths(data_dir, PROJECT)
    make_concept_folder(paths.dataset, n=2, repeats=1, concept="tinysquare")  # WebUI's trainers read one folder
    cleanup: list[Path] = []
    try:
        yield {"url": url, "log": log_path, "paths": paths, "cleanup": cleanup, "webui_dir": webui_dir,
               "before": txt2img(url, "a small square")}
    finally:
        shutil.rmtree(paths.dir, ignore_errors=True)
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        httpx.post(url + "/sdapi/v1/refresh-embeddings", timeout=60)


def test_support_says_which_kinds_train_here(webui, webui_kind):
    body = httpx.get(webui["url"] + API + "/webui-kinds/support", timeout=30).json()
    if webui_kind == "forge":  # Forge removed both trainers: offered as unavailable, with the reason
        assert {k["kind"]: k["can_train"] for k in body["kinds"]} == {"embedding": False, "hypernetwork": False}
        assert all("Forge" in k["train_reason"] for k in body["kinds"]), body
        version = {"project": PROJECT, "version": "emb", "kind": "embedding", "fields": {"name": WORD}}
        assert httpx.post(webui["url"] + API + "/webui-kinds/versions", json=version, timeout=30).status_code == 201
        refused = httpx.post(webui["url"] + API + "/webui-kinds/train", json={"project": PROJECT, "version": "emb"},
                             timeout=30)
        assert refused.status_code == 409 and "Forge" in refused.text, refused.text  # before anything runs
        return
    assert {k["kind"]: (k["can_train"], k["can_preview"]) for k in body["kinds"]} == {
        "embedding": (True, True), "hypernetwork": (True, True)}, body
    assert "subject_filewords.txt" in body["prompt_templates"]


@pytest.fixture
def a1111(webui, webui_kind):
    if webui_kind == "forge":
        pytest.skip("Forge removed WebUI's embedding and hypernetwork trainers (the support test checks the refusal)")
    return webui


def created_and_trained(url: str, version: dict) -> dict:
    """``version`` created through the tab's API and trained to the end by WebUI's trainer; its saved steps."""
    created = httpx.post(url + API + "/webui-kinds/versions", json=version, timeout=30)
    assert created.status_code == 201, created.text
    name = {"project": PROJECT, "version": version["version"]}
    started = httpx.post(url + API + "/webui-kinds/train", json=name, timeout=30)
    assert started.status_code == 202, started.text
    result = wait_for_training(url)
    assert result["state"] == "finished", (result.get("message"), result.get("error"), result)
    return httpx.get(url + API + "/webui-kinds/steps", params=name, timeout=30).json()


def test_embedding_trained_in_the_tab_gridded_and_published(a1111):
    webui = a1111
    url = webui["url"]
    version = {"project": PROJECT, "version": "emb", "kind": "embedding",
               "fields": {"name": WORD, "init_text": "square", "vectors_per_token": 1, "training": TRAIN}}
    steps = created_and_trained(url, version)
    assert [s["step"] for s in steps["steps"]] == [2, 4, 5]  # WebUI's copies (steps_done) and the result
    listed = httpx.get(url + "/sdapi/v1/embeddings", timeout=30).json()
    assert WORD not in listed["loaded"] and WORD not in listed["skipped"]  # nothing of ours in WebUI's list

    grid = httpx.post(url + API + "/webui-kinds/grid", timeout=900, json={
        "project": PROJECT, "version": "emb", "prompts": [f"a photo of {WORD}"], "baseline": True, **RENDER})
    assert grid.status_code == 200, grid.text
    cells = grid_cells(grid.json())
    baseline = [(e, px) for e, px in cells if e["baseline"]]
    with_word = [(e, px) for e, px in cells if not e["baseline"]]
    assert len(with_word) == 3 and baseline
    plain = txt2img(url, baseline[0][0]["prompt"])
    assert WORD not in baseline[0][0]["prompt"]
    assert all(np.array_equal(px, plain) for _, px in baseline)
    images = [px for _, px in with_word]
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
    assert not np.array_equal(images[0], plain)

    # No prompt typed: the prompts are the lines of WebUI's own template file, with the word for [name].
    template = (webui["webui_dir"] / "textual_inversion_templates" / "subject.txt").read_text().splitlines()
    grid = httpx.post(url + API + "/webui-kinds/grid", timeout=900, json={
        "project": PROJECT, "version": "emb", "template": "subject.txt", "snapshots": [steps["steps"][-1]["path"]],
        "baseline": False, **RENDER})
    assert grid.status_code == 200, grid.text
    prompts = {entry["prompt"] for entry, _ in grid_cells(grid.json())}
    assert prompts and prompts <= {line.replace("[name]", WORD) for line in template if line.strip()}

    published = httpx.post(url + API + "/webui-kinds/publish", timeout=120,
                           json={"project": PROJECT, "version": "emb", "step": steps["steps"][1]["path"]})
    assert published.status_code == 200, published.text
    webui["cleanup"] += [Path(published.json()["path"]), *Path(published.json()["path"]).parent.glob(f"{WORD}.*")]
    assert WORD in httpx.get(url + "/sdapi/v1/embeddings", timeout=30).json()["loaded"]


def test_hypernetwork_trained_in_the_tab_gridded_published_and_its_run_listed_as_webuis(a1111):
    webui = a1111
    url, root = webui["url"], webui["webui_dir"]
    version = {"project": PROJECT, "version": "hn", "kind": "hypernetwork",
               "fields": {"name": HYPERNET, "sizes": ["64"],  # the tiny checkpoint's cross-attention width
                          "training": {**TRAIN, "learn_rate": "0.05"}}}
    steps = created_and_trained(url, version)
    assert [s["step"] for s in steps["steps"]] == [2, 4, 5]
    assert not (root / "models" / "hypernetworks" / f"{HYPERNET}.pt").exists()  # nothing left in WebUI's folder
    listed = {h["name"] for h in httpx.get(url + "/sdapi/v1/hypernetworks", timeout=30).json()}
    assert HYPERNET not in listed

    grid = httpx.post(url + API + "/webui-kinds/grid", timeout=900, json={
        "project": PROJECT, "version": "hn", "strengths": "0, 3", "baseline": False,
        "prompts": ["a small square"], **RENDER})
    assert grid.status_code == 200, grid.text
    cells = grid_cells(grid.json())
    plain = txt2img(url, "a small square")
    zero = [px for e, px in cells if float(e.get("weight", e.get("strength", 0))) == 0]
    strong = [px for e, px in cells if float(e.get("weight", e.get("strength", 0))) == 3]
    assert len(zero) == 3 and len(strong) == 3
    assert all(np.array_equal(px, plain) for px in zero)  # strength 0 is plain txt2img
    assert not np.array_equal(strong[0], strong[2]) and not np.array_equal(strong[0], plain)
    listed = {h["name"] for h in httpx.get(url + "/sdapi/v1/hypernetworks", timeout=30).json()}
    assert not any(name.startswith("mwhn") for name in listed)  # the grid's temporary names are gone

    published = httpx.post(url + API + "/webui-kinds/publish", timeout=120,
                           json={"project": PROJECT, "version": "hn", "step": steps["steps"][1]["path"]})
    assert published.status_code == 200, published.text
    webui["cleanup"] += list(Path(published.json()["path"]).parent.glob(f"{HYPERNET}.*"))
    listed = {h["name"] for h in httpx.get(url + "/sdapi/v1/hypernetworks", timeout=30).json()}
    assert HYPERNET in listed

    # A run made in WebUI's own Train tab lands in textual_inversion/<date>/<name>/hypernetworks/. WebUI's
    # own trainer cannot run on this machine's torch outside our run (see sampler_compat), so the run this
    # version made, which is in WebUI's layout, is put where WebUI's Train tab writes.
    made = Path(steps["steps"][0]["path"]).parent.parent  # <log>/<date>/<name>
    outside = root / "textual_inversion" / made.parent.name / f"{HYPERNET}x"
    webui["cleanup"].append(outside)
    (outside / "hypernetworks").mkdir(parents=True)
    for step in (2, 4):
        shutil.copy2(made / "hypernetworks" / f"{HYPERNET}-{step}.pt", outside / "hypernetworks" / f"{HYPERNET}x-{step}.pt")
    runs = httpx.get(url + API + "/webui-kinds/runs", timeout=30).json()
    run = next(r for r in runs["runs"] if r["name"] == f"{HYPERNET}x")
    assert [s["step"] for s in run["kinds"]["hypernetwork"]] == [2, 4]
    grid = httpx.post(url + API + "/webui-kinds/grid", timeout=900, json={
        "run": run["id"], "kind": "hypernetwork", "strengths": "0, 3", "baseline": False,
        "prompts": ["a small square"], **RENDER})
    assert grid.status_code == 200, grid.text
    cells = grid_cells(grid.json())
    assert [np.array_equal(px, plain) for e, px in cells if float(e.get("weight", e.get("strength", 0))) == 0] == [
        True, True]
    outside_strong = [px for e, px in cells if float(e.get("weight", e.get("strength", 0))) == 3]
    assert np.array_equal(outside_strong[0], strong[0]) and np.array_equal(outside_strong[1], strong[1])


def test_the_loaded_model_is_unchanged(webui):
    assert np.array_equal(webui["before"], txt2img(webui["url"], "a small square"))
