"""Tagging with WebUI's DeepBooru / BLIP and the ``/lora-check`` route, against the fake ``modules``."""

from __future__ import annotations

import importlib

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from model_workbench.host import HostFeatureUnavailable
from tests.contract.test_webui_training import write_lora


@pytest.fixture
def webui(fake_webui):
    fake_webui.devices = importlib.import_module("modules.devices")
    fake_webui.deepbooru = importlib.import_module("modules.deepbooru")
    fake_webui.interrogate = importlib.import_module("modules.interrogate")
    fake_webui.shared.interrogator = fake_webui.interrogate.InterrogateModels()
    fake_webui.sd_model = importlib.import_module("fake_sd_model").FakeSD1Model(seed=3)
    fake_webui.shared.sd_model = fake_webui.sd_model
    return fake_webui


@pytest.fixture
def host(webui):
    from model_workbench.webui.host import WebuiHost

    return WebuiHost()


def red_image() -> Image.Image:
    return Image.new("RGB", (32, 32), (230, 60, 20))


def running_job(state):
    """A job in progress, as a training or tagging job leaves ``shared.state`` between steps."""
    state.begin(job="model-workbench-tag")
    state.job_count, state.job_no, state.textinfo = 8, 3, "Tagging 4 of 8"
    state.sampling_step, state.sampling_steps = 2, 5
    return {"job": state.job, "job_count": 8, "job_no": 3, "textinfo": "Tagging 4 of 8", "sampling_step": 2}


def assert_job_kept(state, expected):
    assert {name: getattr(state, name) for name in expected} == expected


# -- tagging ---------------------------------------------------------------------------------------
def test_deepbooru_uses_the_threshold_argument_not_the_global_option(webui, host):
    webui.shared.opts.interrogate_deepbooru_score_threshold = 0.99  # would drop every tag
    # Mean colour of the fake model's input: red 0.9, green 0.24, blue 0.08, overall 0.41.
    assert host.tag_image(red_image(), "deepbooru", 0.2) == ["red", "bright colour", "green"]
    assert host.tag_image(red_image(), "deepbooru", 0.5) == ["red"]
    assert webui.shared.opts.interrogate_deepbooru_score_threshold == 0.99
    assert webui.deepbooru.model.calls == ["start", "stop", "start", "stop"]  # moved off the GPU each time


def test_deepbooru_honours_webui_tag_filter_and_underscores_option(webui, host):
    webui.shared.opts.deepbooru_use_spaces = False
    webui.shared.opts.deepbooru_filter_tags = "green"
    assert host.tag_image(red_image(), "deepbooru", 0.2) == ["red", "bright_colour"]


def test_tagging_keeps_the_running_jobs_progress(webui, host):
    state = webui.shared.state
    expected = running_job(state)
    host.tag_image(red_image(), "deepbooru", 0.3)
    assert_job_kept(state, expected)
    assert host.tag_image(red_image(), "blip", 0.3) == ["a picture of a red square"]
    assert_job_kept(state, expected)
    assert state.jobs_begun == ["model-workbench-tag"]  # WebUI's interrogate() would have begun its own job
    assert webui.shared.interrogator.calls == ["load", "unload"] and not webui.shared.interrogator.loaded


def test_an_interrupt_pressed_while_tagging_is_not_lost(webui, host, monkeypatch):
    state = webui.shared.state
    running_job(state)
    caption = webui.shared.interrogator.generate_caption

    def interrupted_caption(image):
        state.interrupt()
        return caption(image)

    monkeypatch.setattr(webui.shared.interrogator, "generate_caption", interrupted_caption)
    host.tag_image(red_image(), "blip", 0.5)
    assert state.interrupted and state.job_count == 8


def test_unknown_or_missing_taggers_say_so(webui, host):
    with pytest.raises(ValueError, match="Unknown tagging method"):
        host.tag_image(red_image(), "clip", 0.5)
    webui.shared.interrogator = None
    with pytest.raises(HostFeatureUnavailable, match="BLIP"):
        host.tag_image(red_image(), "blip", 0.5)


# -- /lora-check ------------------------------------------------------------------------------------
@pytest.fixture
def client(webui, host):
    from model_workbench.webui.routes import register_routes

    app = FastAPI()
    register_routes(app, host)
    return TestClient(app)


def test_lora_check_reports_modules_and_unmatched_keys(webui, client, tmp_path):
    path = write_lora(tmp_path / "check.safetensors", webui.sd_model, extra_keys=True)
    response = client.get("/model-workbench/v1/lora-check", params={"path": str(path)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modules"] == 2 and body["total_keys"] == 7 and body["matched_keys"] == 6
    assert body["unmatched_keys"] == ["lora_unet_no_such_layer.lora_down.weight"]
    # Checking registers nothing in WebUI's LoRA list and applies nothing.
    assert webui.networks.available_networks == {} and webui.networks.loaded_networks == []


def test_lora_check_of_a_missing_file_is_404(client, tmp_path):
    response = client.get("/model-workbench/v1/lora-check", params={"path": str(tmp_path / "nope.safetensors")})
    assert response.status_code == 404 and "There is no LoRA file" in response.json()["detail"]


def test_lora_check_without_a_model_is_503(webui, client, tmp_path):
    path = write_lora(tmp_path / "check.safetensors", webui.sd_model)
    webui.shared.sd_model = None
    response = client.get("/model-workbench/v1/lora-check", params={"path": str(path)})
    assert response.status_code == 503 and "No checkpoint is loaded" in response.json()["detail"]


def test_lora_check_is_behind_api_auth(webui, host, tmp_path):
    from model_workbench.webui.routes import register_routes

    webui.shared.cmd_opts.api_auth = "me:secret"
    app = FastAPI()
    register_routes(app, host)
    client = TestClient(app)
    path = write_lora(tmp_path / "check.safetensors", webui.sd_model)
    url = "/model-workbench/v1/lora-check"
    assert client.get(url, params={"path": str(path)}).status_code == 401
    assert client.get(url, params={"path": str(path)}, auth=("me", "wrong")).status_code == 401
    assert client.get(url, params={"path": str(path)}, auth=("me", "secret")).status_code == 200


def test_a_tagger_that_cannot_load_its_model_says_what_to_do(webui, host, monkeypatch):
    def offline():
        raise OSError("no internet")

    monkeypatch.setattr(webui.deepbooru.model, "load", offline)
    state = webui.shared.state
    expected = running_job(state)
    with pytest.raises(HostFeatureUnavailable, match="DeepBooru could not tag.*no internet.*torch_deepdanbooru"):
        host.tag_image(red_image(), "deepbooru", 0.5)
    assert_job_kept(state, expected)


def test_a_conv_dim_lora_has_every_key_matched_and_merges_like_our_hooks(webui, client, tmp_path):
    """A LoCon (conv_dim) LoRA of the loaded model: WebUI's Lora loader matches every key (ResBlock
    convs by their diffusers names, the tiny UNet's off-layout samplers by WebUI's lora_unet fallback),
    and what WebUI merges into a 3×3 conv equals what our training hooks add."""
    import torch
    from torch import nn

    from model_workbench.training.checkpoint import save_lora
    from model_workbench.training.network import LoRANetwork

    model = webui.sd_model
    network = LoRANetwork(model, "sd1", rank=2, alpha=1, conv_dim=3, conv_alpha=2)
    torch.manual_seed(0)
    for _target, lora in network.loras():
        nn.init.normal_(lora.lora_up.weight, std=0.1)
    path = tmp_path / "locon.safetensors"
    save_lora(path, network.state_dict(), {}, "float")
    keys = network.state_dict().keys()
    assert "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight" in keys
    assert "lora_unet_input_blocks_2_0_op.lora_down.weight" in keys

    body = client.get("/model-workbench/v1/lora-check", params={"path": str(path)}).json()
    assert body["unmatched_keys"] == [] and body["matched_keys"] == body["total_keys"] == len(keys)
    assert body["modules"] == len(list(network.loras()))

    convs = {name: model.get_submodule(f"model.diffusion_model.{name}")
             for name in ("input_blocks.1.0.in_layers.2", "input_blocks.2.0.op", "output_blocks.0.1.conv")}
    xs = {name: torch.randn(1, conv.in_channels, 8, 8) for name, conv in convs.items()}
    with torch.no_grad(), network:
        ours = {name: conv(xs[name]) for name, conv in convs.items()}
    from tests.contract.test_webui_training import merge_like_a_generation

    merge_like_a_generation(webui, path)
    with torch.no_grad():
        for name, conv in convs.items():
            torch.testing.assert_close(conv(xs[name]), ours[name], rtol=1e-4, atol=1e-5)
