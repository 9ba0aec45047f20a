"""Inside a real WebUI: a LoRA installed from a fake Hugging Face Hub on 127.0.0.1 (set as the Hub endpoint,
as a mirror would be) through the extension's HTTP API appears in ``/sdapi/v1/loras`` at once, without a
restart, with its sidecars beside it; the Hub token is never in WebUI's options."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.support.fake_hub import TOKEN, FakeHub
from tests.support.fake_hub_data import make_repo
from tests.support.fake_hub_files import kohya_lora_sd15, png
from tests.support.webui_downloads import source_settings, wait_for_job


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


def test_a_lora_installed_from_the_hub_is_listed_without_a_restart(fake_hub_in_webui):
    url, hub = fake_hub_in_webui
    name = f"mw_webui_hub_{int(time.time())}"
    repo_id = f"fake-org/{name.replace('_', '-')}"
    hub.add_repo(make_repo(repo_id, {f"{name}.safetensors": kohya_lora_sd15(), "preview.png": png(seed=7)},
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
        # The token went to the endpoint only, never to the storage origin the file came from.
        assert all("authorization" not in {k.lower() for k in r.headers} for r in hub.requests_to("storage"))
    finally:
        for leftover in path.parent.glob(f"{name}*"):
            leftover.unlink()
        httpx.post(url + "/sdapi/v1/refresh-loras", timeout=60)
