"""The base model of a version (issue 14, item 2) in a real WebUI v1.10.1, with a second checkpoint.

The second checkpoint is the loaded one with its UNet's output bias moved (another hash, other pixels),
written next to it for this test only and removed afterwards, with the original loaded again. Over the
extension's HTTP API: choosing it loads it through WebUI and the version's config records it; with the
original loaded again a training asks to switch (409) and loads nothing; told to switch it trains on the
second one (WebUI's loaded checkpoint afterwards, named in the LoRA's metadata); a preview of the version,
started with the original loaded, renders on the second checkpoint (its weight-0 cell is the second
checkpoint's own txt2img) and the original is loaded again afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from model_workbench.training import projects
from model_workbench.training.previews import cell_image
from tests.support.tiny_dataset import make_concept_folder
from tests.webui.test_training_in_webui import (
    API,
    CONFIG,
    PLAIN,
    txt2img_pixels,
    wait_for_our_routes,
    wait_for_training,
)

PROJECT = f"webui-base-{os.getpid()}"
MOVED_TENSOR = "model.diffusion_model.out.2.bias"  # the UNet's last conv: every step's prediction moves


def loaded_title(url: str) -> str:
    response = httpx.get(url + "/sdapi/v1/options", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["sd_model_checkpoint"]


def select(url: str, title: str) -> None:
    """Load ``title`` as a WebUI API client does (the option's onchange loads the weights)."""
    response = httpx.post(url + "/sdapi/v1/options", json={"sd_model_checkpoint": title}, timeout=300)
    assert response.status_code == 200, response.text


def listed(url: str) -> list[dict]:
    return httpx.get(url + "/sdapi/v1/sd-models", timeout=30).json()


def same_checkpoint(option: str, title: str) -> bool:
    """Whether WebUI's checkpoint option names ``title`` (Forge stores the file name without the hash)."""
    return option.split(" [")[0] == title.split(" [")[0]


def listed_entry(url: str, option: str) -> dict:
    """The ``/sd-models`` entry the checkpoint option names: A1111 stores the title ("name [hash]"); Forge
    may store the file name before the hash is known."""
    def names(entry: dict) -> set[str]:
        return {entry["title"], entry["title"].split(" [")[0], entry["model_name"], Path(entry["filename"]).name}

    wanted = {option, option.split(" [")[0]}
    found = [entry for entry in listed(url) if names(entry) & wanted]
    assert found, (option, listed(url))
    return found[0]


def write_second_checkpoint(source: Path, target: Path) -> str:
    """``source`` with one UNet tensor moved, saved as ``target`` (with its yaml); returns its sha256."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(source))
    with safe_open(str(source), framework="pt") as f:
        metadata = f.metadata()
    tensors[MOVED_TENSOR] = tensors[MOVED_TENSOR] + 1.0
    save_file(tensors, str(target), metadata=metadata)
    if source.with_suffix(".yaml").is_file():  # the tiny model's config, found by WebUI next to the file
        shutil.copyfile(source.with_suffix(".yaml"), target.with_suffix(".yaml"))
    return hashlib.sha256(target.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_checkpoints(webui_server):
    """The loaded checkpoint and a second one next to it; afterwards the second is gone and the first loaded."""
    url, log_path = webui_server
    assert wait_for_our_routes(url).status_code == 200
    original = loaded_title(url)
    source = Path(listed_entry(url, original)["filename"])
    target = source.with_name(f"{source.stem}-mwbase{os.getpid()}{source.suffix}")
    try:
        sha256 = write_second_checkpoint(source, target)
        assert httpx.post(url + "/sdapi/v1/refresh-checkpoints", timeout=60).status_code == 200
        second = next(m for m in listed(url) if Path(m["filename"]) == target)
        yield {"url": url, "log": log_path, "original": original, "second": second, "sha256": sha256, "file": target}
    finally:
        try:
            select(url, original)
        finally:
            target.unlink(missing_ok=True)
            target.with_suffix(".yaml").unlink(missing_ok=True)
            httpx.post(url + "/sdapi/v1/refresh-checkpoints", timeout=60)


@pytest.fixture(scope="module")
def project(two_checkpoints):
    url = two_checkpoints["url"]
    data_dir = Path(httpx.get(url + API + "/status", timeout=30).json()["data_dir"])
    assert httpx.post(url + API + "/projects", json={"name": PROJECT}, timeout=30).status_code == 200
    paths = projects.project_paths(data_dir, PROJECT)
    try:
        make_concept_folder(paths.dataset, n=4, repeats=1, concept="tinysquare")
        projects.create_version(data_dir, PROJECT, "vb", {})
        yield data_dir
    finally:
        shutil.rmtree(paths.dir, ignore_errors=True)


def test_a_version_trains_and_previews_on_its_chosen_base_model(two_checkpoints, project):
    from safetensors import safe_open

    url, original, second = two_checkpoints["url"], two_checkpoints["original"], two_checkpoints["second"]
    on_original = txt2img_pixels(url)

    # Choose: WebUI loads the second checkpoint (and hashes it); the version's config records it.
    chosen = httpx.post(url + API + "/train/base-model", timeout=300,
                        json={"project": PROJECT, "version": "vb", "checkpoint": second["title"]})
    assert chosen.status_code == 200, chosen.text
    title = chosen.json()["title"]
    assert chosen.json()["base_model_sha256"] == two_checkpoints["sha256"]
    assert title.startswith(second["model_name"]) and title.endswith(f"[{two_checkpoints['sha256'][:10]}]")
    assert same_checkpoint(loaded_title(url), title)
    config = projects.read_version_config(project, PROJECT, "vb")
    assert (config["base_model"], config["base_model_hash"]) == (Path(two_checkpoints["file"]).name,
                                                                 two_checkpoints["sha256"][:10])
    on_second = txt2img_pixels(url)
    assert np.abs(on_second.astype(int) - on_original.astype(int)).mean() > 1.0  # another model, really

    # The user loads the original again in WebUI: a training asks first and loads nothing.
    select(url, original)
    body = {"project": PROJECT, "version": "vb", "config": {**CONFIG, "max_train_epochs": 1}}
    refused = httpx.post(url + API + "/train", json=body, timeout=60)
    assert refused.status_code == 409, refused.text
    original_title = listed_entry(url, original)["title"]  # with its hash, as the sentence names it
    assert refused.json()["detail"] == (f"{PROJECT} / vb trains on {title}, but {original_title} is loaded. Switch "
                                        f"to {title} and train, or choose {original_title} as the version's base "
                                        "model.")
    assert same_checkpoint(loaded_title(url), original)
    assert httpx.get(url + API + "/train/status", timeout=30).json()["state"] != "running"

    # Told to switch: it loads the second checkpoint and trains on it.
    started = httpx.post(url + API + "/train", json={**body, "switch_base_model": True}, timeout=60)
    assert started.status_code == 202, started.text
    status = wait_for_training(url)
    assert status["state"] == "finished", (status, two_checkpoints["log"].read_text(errors="replace")[-4000:])
    assert same_checkpoint(loaded_title(url), title)
    lora = status["checkpoints"][-1]
    with safe_open(lora, framework="pt") as f:
        meta = f.metadata()
    assert meta["ss_sd_model_name"] == Path(two_checkpoints["file"]).name
    assert meta["ss_new_sd_model_hash"] == two_checkpoints["sha256"]

    # A preview started with the original loaded renders on the version's base model, then puts it back.
    select(url, original)
    response = httpx.post(url + API + "/preview", timeout=600, json={
        "project": PROJECT, "version": "vb", "checkpoints": [lora], "weights": "0, 1", "prompt": PLAIN["prompt"],
        "negative_prompt": "", "seed": PLAIN["seed"], "steps": PLAIN["steps"], "width": 64, "height": 64,
        "cfg_scale": PLAIN["cfg_scale"], "sampler_name": PLAIN["sampler_name"]})
    assert response.status_code == 200, response.text
    preview = response.json()
    assert [c["status"] for c in preview["cells"]] == ["done", "done"], preview
    assert all(f"Model hash: {two_checkpoints['sha256'][:10]}" in c["infotext"] for c in preview["cells"]), preview
    assert "rendered on" not in (preview.get("message") or ""), preview
    manifest = json.loads(Path(preview["manifest"]).read_text(encoding="utf-8"))
    weight0 = np.asarray(cell_image(preview["manifest"], manifest["cells"][0]))
    assert np.array_equal(weight0, on_second)  # the second checkpoint's own render, not the original's
    assert same_checkpoint(loaded_title(url), original)
    assert np.array_equal(txt2img_pixels(url), on_original)
