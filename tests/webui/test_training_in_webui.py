"""Training inside a real WebUI v1.10.1 on the CPU, through the extension's HTTP contract.

Create a project, put four images with captions in its dataset, train two epochs at 64×64 on the
loaded checkpoint (the tiny random SD1.5-layout model), then: every checkpoint loads through WebUI's
own Lora code with every key matched; preview cells at weights 0 and 1 differ; every cell's infotext
(and the grid PNG's) names its epoch and weight as PNG Info reads it, and the epochs a preview
registered leave WebUI's Lora list when it ends; a cell renders again from its infotext once its epoch
is published; a plain txt2img with a fixed seed gives the same pixels before and after training (the
loaded model is unchanged); publish copies the file into the LoRA folder where WebUI lists it; a
training with ``preview_after_training`` renders its grid (the baseline first, WebUI's own render)
when it ends, named in the training status, and saves a step-0 sample of the base model.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from model_workbench.training import projects
from model_workbench.training.previews import cell_image
from tests.support.tiny_dataset import make_concept_folder

API = "/model-workbench/v1"
PROJECT = f"webui-tier-{os.getpid()}"
# Small and quick on two CPU cores; a high rate so two epochs visibly move the LoRA.
CONFIG = {"resolution": "64", "network_dim": 4, "network_alpha": 4, "learning_rate": 5e-2, "max_train_epochs": 2,
          "train_batch_size": 2, "seed": 7, "save_precision": "float", "enable_bucket": False,
          "mixed_precision": "no"}
# Default kohya LoRA targets: the tiny checkpoint has 16 transformer stacks × 12 layers in the UNet and
# 2 CLIP layers × 6 (204); a full-size SD1.5 (the one Forge needs) has 16 × 12 and 12 × 6 (264).
EXPECTED_MODULES = {204, 264}
PLAIN = {"prompt": "a small square", "negative_prompt": "", "seed": 1234, "steps": 3, "width": 64, "height": 64,
         "sampler_name": "Euler", "cfg_scale": 5}


def txt2img_pixels(url: str) -> np.ndarray:
    response = httpx.post(url + "/sdapi/v1/txt2img", json=PLAIN, timeout=300)
    assert response.status_code == 200, response.text
    data = base64.b64decode(response.json()["images"][0])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def wait_for_our_routes(url: str, timeout: float = 60) -> httpx.Response:
    """WebUI answers its own API before the app_started callbacks have added ours."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url + API + "/status", timeout=30)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def wait_for_training(url: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(url + API + "/train/status", timeout=30).json()
        if status["state"] not in ("running", "idle"):
            return status
        time.sleep(1)
    raise AssertionError(f"training did not end in {timeout} s: {status}")


@pytest.fixture(scope="module")
def trained(webui_server, webui_dir):
    """The project trained once for all tests here; removed (with anything published) afterwards."""
    url, log_path = webui_server
    response = wait_for_our_routes(url)
    assert response.status_code == 200, response.text
    status = response.json()
    # Another session's copy of the extension installed in the same WebUI at the same time would answer
    # our routes first (an older version says can_train False); name the folders to make that obvious.
    others = sorted(p.name for p in (webui_dir / "extensions").iterdir() if p.is_dir())
    assert status.get("can_train") is True, (status, f"extensions installed: {others}")
    data_dir = Path(status["data_dir"])
    before = txt2img_pixels(url)
    created = httpx.post(url + API + "/projects", json={"name": PROJECT}, timeout=30)
    assert created.status_code == 200, created.text
    paths = projects.project_paths(data_dir, PROJECT)
    published: list[Path] = []
    try:
        make_concept_folder(paths.dataset, n=4, repeats=1, concept="tinysquare")
        started = httpx.post(url + API + "/train", json={"project": PROJECT, "version": "v1", "config": CONFIG},
                             timeout=30)
        assert started.status_code == 202, started.text
        result = wait_for_training(url)
        assert result["state"] == "finished", (result, log_path.read_text(errors="replace")[-4000:])
        after = txt2img_pixels(url)
        yield {"url": url, "status": result, "before": before, "after": after, "paths": paths,
               "published": published, "log": log_path}
    finally:
        shutil.rmtree(paths.dir, ignore_errors=True)
        for folder in published:
            shutil.rmtree(folder, ignore_errors=True)


def test_training_wrote_two_epochs(trained):
    checkpoints = trained["status"]["checkpoints"]
    assert [Path(p).name for p in checkpoints] == [f"{PROJECT}_v1-000001.safetensors",
                                                   f"{PROJECT}_v1-000002.safetensors"]
    assert all(Path(p).is_file() for p in checkpoints)


def test_every_checkpoint_loads_through_webui_lora_with_every_key_matched(trained):
    for path in trained["status"]["checkpoints"]:
        response = httpx.get(trained["url"] + API + "/lora-check", params={"path": path}, timeout=120)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["unmatched_keys"] == []
        assert body["modules"] in EXPECTED_MODULES
        assert body["total_keys"] == 3 * body["modules"]  # lora_down, lora_up, alpha per module


def test_the_loaded_model_is_unchanged_by_training(trained):
    assert np.array_equal(trained["before"], trained["after"])


def preview_last_epoch(trained: dict, weights: str, prompt: str, seed: int) -> dict:
    """The last checkpoint previewed through our API at 64×64, 3 Euler steps; returns the answer's body."""
    response = httpx.post(trained["url"] + API + "/preview", timeout=600, json={
        "project": PROJECT, "version": "v1", "checkpoints": [trained["status"]["checkpoints"][-1]],
        "weights": weights, "prompt": prompt, "negative_prompt": "", "seed": seed, "steps": 3, "width": 64,
        "height": 64, "cfg_scale": 5, "sampler_name": "Euler"})
    assert response.status_code == 200, response.text
    return response.json()


def png_info(url: str, png: bytes) -> dict:
    """What WebUI's PNG Info reads from a PNG file (with the infotext_pasted callbacks, which the UI's
    paste runs too: the Lora one renames <lora:NAME:…> to the listed file with NAME's hash)."""
    parsed = httpx.post(url + "/sdapi/v1/png-info", timeout=60,
                        json={"image": "data:image/png;base64," + base64.b64encode(png).decode()})
    assert parsed.status_code == 200, parsed.text
    return parsed.json()["parameters"]


def png_with_parameters(image: Image.Image, parameters: str) -> bytes:
    """The cell saved as WebUI saves an image: its infotext in the ``parameters`` text chunk."""
    carrier = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters)
    image.save(carrier, format="PNG", pnginfo=info)
    return carrier.getvalue()


def assert_reproduces(params: dict, lora: str, weight: float, seed: int, prompt: str) -> None:
    """PNG Info's reading of a cell: its prompt with <lora:NAME:W>, seed, size, sampler and steps."""
    assert params["Prompt"] == f"{prompt} <lora:{lora}:{weight:g}>", params
    assert (int(params["Seed"]), int(params["Size-1"]), int(params["Size-2"])) == (seed, 64, 64), params
    assert (params["Sampler"], int(params["Steps"]), float(params["CFG scale"])) == ("Euler", 3, 5.0), params


def registered_names(url: str) -> list[str]:
    """Entries of WebUI's Lora list named as a preview registers epochs (``<stem>-<8 hex>``)."""
    names = [entry["name"] for entry in httpx.get(url + "/sdapi/v1/loras", timeout=60).json()]
    return [name for name in names if re.fullmatch(rf"{re.escape(PROJECT)}_v\d+-\d{{6}}-[0-9a-f]{{8}}", name)]


def test_every_cell_infotext_and_the_grid_png_reproduce_their_cell(trained):
    """Both epochs at two weights: each cell's infotext names its own epoch and weight; the grid PNG
    carries the first cell's; afterwards WebUI's Lora list no longer has the epochs the preview registered."""
    url, checkpoints = trained["url"], trained["status"]["checkpoints"]
    response = httpx.post(url + API + "/preview", timeout=600, json={
        "project": PROJECT, "version": "v1", "checkpoints": checkpoints, "weights": "0.5, 1",
        "prompt": "tinysquare", "negative_prompt": "", "seed": 42, "steps": 3, "width": 64, "height": 64,
        "cfg_scale": 5, "sampler_name": "Euler"})
    assert response.status_code == 200, response.text
    body = response.json()
    cells = body["cells"]
    assert [(Path(c["checkpoint"]).stem, c["weight"]) for c in cells] == [
        (Path(path).stem, weight) for path in checkpoints for weight in (0.5, 1.0)]
    assert all(c["status"] == "done" for c in cells), body
    names = {}
    for c in cells:
        stem = re.escape(Path(c["checkpoint"]).stem)
        found = re.search(rf"<lora:({stem}-[0-9a-f]{{8}}):([0-9.]+)>", c["infotext"])
        assert found and float(found.group(2)) == c["weight"], c["infotext"]
        names.setdefault(c["checkpoint"], found.group(1))
        assert names[c["checkpoint"]] == found.group(1)  # one name per epoch in the whole grid
        assert f"{names[c['checkpoint']]}: " in c["infotext"].split("Lora hashes:", 1)[1], c["infotext"]
        params = png_info(url, png_with_parameters(Image.new("RGB", (64, 64)), c["infotext"]))
        assert_reproduces(params, names[c["checkpoint"]], c["weight"], 42, "tinysquare")
    assert len(set(names.values())) == 2 and len({c["infotext"] for c in cells}) == 4
    with Image.open(body["grid"]) as grid:
        assert grid.info["parameters"] == cells[0]["infotext"]
    params = png_info(url, Path(body["grid"]).read_bytes())  # the grid file as it is
    assert_reproduces(params, names[cells[0]["checkpoint"]], 0.5, 42, "tinysquare")
    assert registered_names(url) == []


def test_preview_cells_differ_by_weight(trained):
    url = trained["url"]
    body = preview_last_epoch(trained, "0, 1", "tinysquare, colour1, square", 99)
    assert [c["weight"] for c in body["cells"]] == [0.0, 1.0]
    assert [c["status"] for c in body["cells"]] == ["done", "done"], body
    assert "Seed: 99" in body["cells"][1]["infotext"] and "Lora hashes" in body["cells"][1]["infotext"]
    manifest = json.loads(Path(body["manifest"]).read_text(encoding="utf-8"))
    crops = [np.asarray(cell_image(body["manifest"], entry)) for entry in manifest["cells"]]
    assert crops[0].shape == crops[1].shape == (64, 64, 3)
    assert np.abs(crops[0].astype(int) - crops[1].astype(int)).mean() > 1.0  # visibly different, not noise
    # Weight 0 is the plain model: the same prompt and seed without any LoRA give the same pixels.
    plain = dict(PLAIN, prompt="tinysquare, colour1, square", seed=99)
    response = httpx.post(url + "/sdapi/v1/txt2img", json=plain, timeout=300)
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))).convert("RGB"))
    assert np.array_equal(image, crops[0])


def test_a_cell_is_reproduced_from_its_infotext_through_png_info(trained):
    """What a user does with a cell they like: publish its epoch, paste the cell's parameters through
    PNG Info (which finds the published file by the hash in "Lora hashes"), render it again in txt2img."""
    url, checkpoint = trained["url"], trained["status"]["checkpoints"][-1]
    body = preview_last_epoch(trained, "0.8", "tinysquare, colour1", 31)
    manifest = json.loads(Path(body["manifest"]).read_text(encoding="utf-8"))
    cell = cell_image(body["manifest"], manifest["cells"][0])
    infotext = body["cells"][0]["infotext"]
    registered = re.search(r"<lora:([^:>]+):0\.8>", infotext).group(1)
    carrier = png_with_parameters(cell, infotext)
    assert_reproduces(png_info(url, carrier), registered, 0.8, 31, "tinysquare, colour1")
    assert registered_names(url) == []  # the preview's own entry left WebUI's list when it ended

    published = httpx.post(url + API + "/publish", timeout=60, json={
        "project": PROJECT, "version": "v1", "checkpoint": checkpoint, "weight": 0.8})
    assert published.status_code == 200, published.text
    trained["published"].append(Path(published.json()["path"]).parent)
    params = png_info(url, carrier)
    assert_reproduces(params, Path(checkpoint).stem, 0.8, 31, "tinysquare, colour1")  # the published alias
    again = httpx.post(url + "/sdapi/v1/txt2img", timeout=300, json={
        "prompt": params["Prompt"], "negative_prompt": params.get("Negative prompt", ""), "seed": int(params["Seed"]),
        "steps": int(params["Steps"]), "sampler_name": params["Sampler"], "cfg_scale": float(params["CFG scale"]),
        "width": int(params["Size-1"]), "height": int(params["Size-2"])})
    assert again.status_code == 200, again.text
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(again.json()["images"][0]))).convert("RGB"))
    assert json.loads(again.json()["info"])["infotexts"][0] == infotext.replace(registered, Path(checkpoint).stem)
    assert np.array_equal(image, np.asarray(cell))


def test_publish_puts_the_file_in_the_lora_folder_where_webui_lists_it(trained):
    url, status = trained["url"], trained["status"]
    response = httpx.post(url + API + "/publish", timeout=60, json={
        "project": PROJECT, "version": "v1", "checkpoint": status["checkpoints"][-1], "weight": 0.8,
        "trigger_words": "tinysquare"})
    assert response.status_code == 200, response.text
    body = response.json()
    installed = Path(body["path"])
    trained["published"].append(installed.parent)
    assert installed.is_file() and installed.parent.name == PROJECT
    assert installed.with_suffix(".json").is_file()
    httpx.post(url + "/sdapi/v1/refresh-loras", timeout=60)
    names = {entry["name"] for entry in httpx.get(url + "/sdapi/v1/loras", timeout=60).json()}
    assert body["name"] in names


def test_training_after_a_lora_generation_starts_from_the_clean_weights(trained):
    """A generation with a LoRA leaves its delta merged in WebUI's layers; the next training must undo
    that first. Proof: training v2 with v1's settings after such a generation gives v1's tensors, and the
    plain txt2img is still the one from before any training."""
    from safetensors.torch import load_file

    url, status = trained["url"], trained["status"]
    merged = httpx.post(url + API + "/preview", timeout=600, json={
        "project": PROJECT, "version": "v1", "checkpoints": [status["checkpoints"][-1]], "weights": "1",
        "prompt": "tinysquare", "seed": 5, "steps": 2, "width": 64, "height": 64, "cfg_scale": 5,
        "sampler_name": "Euler"})
    assert merged.status_code == 200, merged.text
    started = httpx.post(url + API + "/train", json={"project": PROJECT, "version": "v2", "config": CONFIG}, timeout=30)
    assert started.status_code == 202, started.text
    again = wait_for_training(url)
    assert again["state"] == "finished", again
    first, second = load_file(status["checkpoints"][-1]), load_file(again["checkpoints"][-1])
    assert first.keys() == second.keys()
    for key in first:
        assert np.allclose(first[key].numpy(), second[key].numpy(), rtol=1e-5, atol=1e-7), key
    assert np.array_equal(txt2img_pixels(url), trained["before"])


# kohya's conv_dim targets of an SD1.5-layout UNet (tests/data/lora-keys/lora-keys-sd15.json "conv"):
# 22 ResBlocks × (conv1, conv2, time_emb_proj), 14 shortcuts, 3 downsamplers and 3 upsamplers.
SD15_CONV_MODULES = 86


def train_version(url: str, version: str, **changes) -> dict:
    started = httpx.post(url + API + "/train", json={"project": PROJECT, "version": version,
                                                     "config": {**CONFIG, **changes}}, timeout=30)
    assert started.status_code == 202, started.text
    result = wait_for_training(url)
    assert result["state"] == "finished", result
    return result


def test_a_conv_dim_lora_has_every_key_matched_by_webui_lora(trained):
    """A LoCon (conv_dim) version: WebUI's own Lora loader matches every key, the ResBlock and sampler
    convs included, and the metadata carries conv_dim/conv_alpha the way kohya writes them."""
    from safetensors import safe_open

    url = trained["url"]
    result = train_version(url, "vconv", conv_dim=4, conv_alpha=2, max_train_epochs=1)
    path = result["checkpoints"][-1]
    body = httpx.get(url + API + "/lora-check", params={"path": path}, timeout=120).json()
    assert body["unmatched_keys"] == []
    assert body["modules"] in {m + SD15_CONV_MODULES for m in EXPECTED_MODULES}
    assert body["total_keys"] == 3 * body["modules"]
    with safe_open(path, framework="pt") as f:
        assert json.loads(f.metadata()["ss_network_args"]) == {"conv_dim": "4", "conv_alpha": "2"}
        down = f.get_tensor("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight")
        assert down.shape[0] == 4 and down.shape[2:] == (3, 3)


def test_a_continued_version_starts_from_the_given_lora(trained):
    """network_weights = v1's first epoch: the continued version's first checkpoint differs from v1's
    (a fresh start with the same seed); with a learning rate too small to move anything it is v1's
    file itself; the metadata names the file it started from."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    url, source = trained["url"], trained["status"]["checkpoints"][0]
    continued = train_version(url, "vcont", network_weights=source, max_train_epochs=1)
    fresh, first = load_file(source), load_file(continued["checkpoints"][0])
    assert fresh.keys() == first.keys()
    assert any(not np.array_equal(fresh[k].numpy(), first[k].numpy()) for k in fresh)
    with safe_open(continued["checkpoints"][0], framework="pt") as f:
        assert f.metadata()["ss_network_weights"] == Path(source).name
    still = train_version(url, "vstill", network_weights=source, max_train_epochs=1, learning_rate=1e-20)
    kept = load_file(still["checkpoints"][0])
    for key in fresh:
        assert np.allclose(fresh[key].numpy(), kept[key].numpy(), rtol=1e-5, atol=1e-7), key


def test_the_preview_grid_appears_after_training_without_a_request(trained):
    """Issue 14, item 1: a training whose config asks for a preview renders its grid when it ends (the
    base model alone in the first column) and the training status names it; nothing but the status is
    polled. A sample before the first step is the base model with the sample prompt and seed."""
    url = trained["url"]
    after = {"enabled": True, "weights": "1", "prompts": ["tinysquare, colour1"], "seed": 21, "steps": 3,
             "width": 64, "height": 64, "cfg_scale": 5, "sampler_name": "Euler", "baseline": True}
    config = {**CONFIG, "max_train_epochs": 1, "sample_prompts": ["tinysquare, colour2"], "sample_every_n_epochs": 1,
              "preview_after_training": after}
    started = httpx.post(url + API + "/train", json={"project": PROJECT, "version": "v3", "config": config}, timeout=30)
    assert started.status_code == 202, started.text
    status = wait_for_training(url)
    assert status["state"] == "finished", (status, trained["log"].read_text(errors="replace")[-4000:])
    preview = status["preview"]
    assert preview["state"] == "done" and preview["cells"] == 2, preview
    manifest = json.loads(Path(preview["manifest"]).read_text(encoding="utf-8"))
    assert Path(preview["grid"]).is_file() and manifest["complete"]
    assert manifest["axes"]["x"]["labels"] == ["no LoRA", "weight 1"] and manifest["axes"]["y"]["labels"] == ["epoch 1"]
    base, lora = (np.asarray(cell_image(preview["manifest"], entry)) for entry in manifest["cells"])
    plain = dict(PLAIN, prompt="tinysquare, colour1", seed=21)
    response = httpx.post(url + "/sdapi/v1/txt2img", json=plain, timeout=300)
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))).convert("RGB"))
    assert np.array_equal(image, base)  # the baseline is WebUI's own render without any LoRA
    assert np.abs(base.astype(int) - lora.astype(int)).mean() > 1.0
    assert registered_names(url) == []  # the grid's epochs left WebUI's Lora list when it ended
    # Step 0: the sample settings of the service (20 steps, Euler a, CFG 7) with the training seed.
    first = next(Path(p) for p in status["samples"] if p.endswith("-000000-00.png"))
    step0 = dict(PLAIN, prompt="tinysquare, colour2", seed=CONFIG["seed"], steps=20, sampler_name="Euler a",
                 cfg_scale=7)
    response = httpx.post(url + "/sdapi/v1/txt2img", json=step0, timeout=300)
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))).convert("RGB"))
    assert np.array_equal(image, np.asarray(Image.open(first).convert("RGB")))
