"""Inside a real WebUI: a LoRA installed from a fake Hugging Face Hub on 127.0.0.1 (set as the Hub endpoint,
as a mirror would be) through the extension's HTTP API appears in ``/sdapi/v1/loras`` at once, without a
restart, with its sidecars beside it; the Hub token is never in WebUI's options."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save

from model_workbench.library.safetensors_header import read_safetensors_header
from model_workbench.training.naming import kohya_key
from tests.support.fake_hub import TOKEN, FakeHub
from tests.support.fake_hub_data import make_repo
from tests.support.fake_hub_files import png
from tests.support.webui_downloads import source_settings, wait_for_job

RENDER = {"negative_prompt": "", "seed": 77, "steps": 3, "width": 64, "height": 64, "sampler_name": "Euler",
          "cfg_scale": 5}
CROSS_ATTENTION = (".attn2.to_k.weight", ".attn2.to_v.weight")


@pytest.fixture
def fake_hub_in_webui(webui_server, webui_secrets_dir):
    url, _ = webui_server
    with FakeHub() as hub, source_settings(
            url, webui_secrets_dir,
            # The token sent through the API is refused; the Settings page keeps it in the secret store.
            {"model_workbench_hf_endpoint": hub.url, "model_workbench_hf_token": "hf_through_the_api"},
            {"hf_token": TOKEN}, restore=("model_workbench_hf_endpoint",)):
        yield url, hub


def test_the_hub_token_is_never_in_webui_options(fake_hub_in_webui):
    url, _ = fake_hub_in_webui
    options = httpx.get(url + "/sdapi/v1/options", timeout=30).text
    assert "hf_through_the_api" not in options and TOKEN not in options


def lora_for_loaded_checkpoint(url: str) -> bytes:
    """A kohya LoRA on the cross-attention of the checkpoint WebUI has loaded (the tier's tiny or full-size
    random SD1.5), strong enough to change a picture: a real file for that model, as a Hub LoRA would be."""
    loaded = httpx.get(url + "/sdapi/v1/options", timeout=30).json()["sd_model_checkpoint"]
    model = next(m for m in httpx.get(url + "/sdapi/v1/sd-models", timeout=30).json()
                 if loaded in (m["title"], m["model_name"], Path(m["filename"]).name))
    shapes = read_safetensors_header(model["filename"]).shapes
    generator, rank, tensors = torch.Generator().manual_seed(5), 4, {}
    for key, shape in shapes.items():
        if key.startswith("model.diffusion_model.") and key.endswith(CROSS_ATTENTION):
            out_dim, in_dim = shape
            lora = kohya_key(key.removesuffix(".weight"), "sd1")  # WebUI's module name, "model.diffusion_model…"
            tensors[f"{lora}.lora_down.weight"] = torch.randn(rank, in_dim, generator=generator)
            tensors[f"{lora}.lora_up.weight"] = torch.randn(out_dim, rank, generator=generator)
            tensors[f"{lora}.alpha"] = torch.tensor(float(rank))
    assert tensors, "the loaded checkpoint has no cross-attention keys"
    return save(tensors, {"ss_network_module": "networks.lora", "ss_base_model_version": "sd_v1"})


def txt2img(url: str, prompt: str) -> np.ndarray:
    response = httpx.post(url + "/sdapi/v1/txt2img", json={**RENDER, "prompt": prompt}, timeout=600)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))).convert("RGB"))


def test_a_lora_installed_from_the_hub_is_listed_without_a_restart_and_used_in_txt2img(fake_hub_in_webui):
    """Issue 12's "done": a LoRA found on the Hub (here a mirror-like endpoint) is installed verified into
    models/Lora with its trigger words and changes txt2img's picture when its tag is in the prompt."""
    url, hub = fake_hub_in_webui
    name = f"mw_webui_hub_{int(time.time())}"
    repo_id = f"fake-org/{name.replace('_', '-')}"
    hub.add_repo(make_repo(repo_id, {f"{name}.safetensors": lora_for_loaded_checkpoint(url), "preview.png": png(seed=7)},
                           card_data={"base_model": "runwayml/stable-diffusion-v1-5", "instance_prompt": "webui hub",
                                      "tags": ["lora"]},
                           body="# WebUI tier LoRA\n", tags=["lora", "text-to-image"]))
    loras = {lora["name"] for lora in httpx.get(url + "/sdapi/v1/loras", timeout=30).json()}
    assert name not in loras

    answer = httpx.post(url + "/model-workbench/v1/huggingface/install",
                        json={"repo_id": repo_id, "path": f"{name}.safetensors"}, timeout=60)
    assert answer.status_code == 200, answer.text
    job_id, path = answer.json()["job_id"], Path(answer.json()["path"])
    try:
        job = wait_for_job(url, job_id)
        assert job["status"] == "done", job
        assert path.is_file() and path.parent.name == "Lora"
        for sidecar in (path.with_suffix(".json"), path.with_suffix(".preview.png"), path.with_name(f"{name}.hf.json")):
            assert sidecar.is_file(), sidecar.name
        assert json.loads(path.with_suffix(".json").read_text())["activation text"] == "webui hub"
        assert TOKEN not in path.with_name(f"{name}.hf.json").read_text()
        loras = {lora["name"]: lora for lora in httpx.get(url + "/sdapi/v1/loras", timeout=30).json()}
        assert name in loras  # listed by WebUI's own registry, no restart and no manual refresh
        assert Path(loras[name]["path"]) == path
        hub_record = json.loads(path.with_name(f"{name}.hf.json").read_text())
        assert hub_record["sha256"] == hub.file(repo_id, f"{name}.safetensors").sha256  # verified against the LFS hash
        plain = txt2img(url, "webui hub, a small square")
        with_lora = txt2img(url, f"webui hub, a small square <lora:{name}:1>")
        assert not np.array_equal(plain, with_lora)  # WebUI loaded and applied the installed file
        # The token went to the endpoint only, never to the storage origin the file came from.
        assert all("authorization" not in {k.lower() for k in r.headers} for r in hub.requests_to("storage"))
    finally:
        for leftover in path.parent.glob(f"{name}*"):
            leftover.unlink()
        httpx.post(url + "/sdapi/v1/refresh-loras", timeout=60)
