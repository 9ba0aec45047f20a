"""Training on WebUI's loaded model through the WebUI host, against the fake ``modules``.

The fake ``shared.sd_model`` is the tests' tiny SD1 model with LatentDiffusion's methods and WebUI's
names; the fake Lora ``networks`` back up and merge weights the way the real one does.
"""

from __future__ import annotations

import importlib
import threading

import pytest
import torch
from safetensors.torch import save_file

from model_workbench.host import HostFeatureUnavailable
from model_workbench.training.protocol import TrainableModel
from model_workbench.training.trainer import Trainer
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_training import assert_same, snapshot, tiny_config

MERGED_UNET = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q"
MERGED_TE = "cond_stage_model.wrapped.transformer.text_model.encoder.layers.0.self_attn.q_proj"


@pytest.fixture
def webui(fake_webui):
    fake_sd_model = importlib.import_module("fake_sd_model")
    fake_webui.devices = importlib.import_module("modules.devices")
    fake_webui.sd_model = fake_sd_model.FakeSD1Model(seed=3)
    fake_webui.shared.sd_model = fake_webui.sd_model
    return fake_webui


@pytest.fixture
def host(webui):
    from model_workbench.webui.host import WebuiHost

    return WebuiHost()


def write_lora(path, model, extra_keys: bool = False):
    """A small kohya LoRA for two layers (one UNet, one text encoder), plus one key for no layer."""
    g = torch.Generator().manual_seed(7)
    tensors = {}
    for key, module in (("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
                         model.get_submodule(MERGED_UNET)),
                        ("lora_te_text_model_encoder_layers_0_self_attn_q_proj", model.get_submodule(MERGED_TE))):
        tensors[f"{key}.lora_down.weight"] = torch.randn(2, module.in_features, generator=g)
        tensors[f"{key}.lora_up.weight"] = torch.randn(module.out_features, 2, generator=g)
        tensors[f"{key}.alpha"] = torch.tensor(2.0)
    if extra_keys:
        tensors["lora_unet_no_such_layer.lora_down.weight"] = torch.zeros(2, 4)
    save_file(tensors, str(path))
    return path


def merge_like_a_generation(webui, path, name="merged"):
    """What a txt2img with ``<lora:name:1>`` leaves behind: the network loaded, weights merged."""
    networks, network = webui.networks, webui.network
    net = networks.load_network(name, network.NetworkOnDisk(name, str(path)))
    networks.loaded_networks.append(net)
    with torch.no_grad():  # generation runs under no_grad/inference
        for module in webui.sd_model.modules():
            networks.network_apply_weights(module)
    return net


def clean_state(model):
    return {k: v.clone() for k, v in model.sd_checkpoint_info.state_dict.items()}


def assert_weights(model, expected):
    state = model.state_dict()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


# -- the trainable model ---------------------------------------------------------------------------
def test_capabilities_say_a1111_can_train_and_tag(host):
    caps = host.capabilities()
    assert caps.can_train and caps.can_tag and caps.flavor == "a1111"


def test_trainable_model_fields_for_sd1(webui, host):
    webui.shared.opts.CLIP_stop_at_last_layers = 2  # the user's setting, restored afterwards
    with host.gpu_lock("train"), host.trainable_model() as model:
        assert isinstance(model, TrainableModel)
        assert model.root is webui.sd_model and model.family == "sd1" and model.prediction_type == "epsilon"
        assert model.alphas_cumprod.shape == (1000,) and model.dtype == torch.float32
        assert model.device == torch.device("cpu")
        assert model.unet is webui.sd_model.model.diffusion_model
        assert model.text_encoders == [webui.sd_model.cond_stage_model]

        pixels = torch.rand(2, 3, 64, 64) * 2 - 1
        latents = model.encode_images(pixels)
        expected = webui.sd_model.scale_factor * webui.sd_model.first_stage_model.encode(pixels)
        assert latents.shape == (2, 4, 8, 8) and torch.allclose(latents, expected)
        assert not latents.requires_grad and not torch.is_inference(latents)

        skip1 = model.encode_captions(["a red square", "a blue one"], clip_skip=1)
        skip2 = model.encode_captions(["a red square", "a blue one"], clip_skip=2)
        assert skip1.crossattn.shape[0] == 2 and skip1.vector is None
        assert not torch.equal(skip1.crossattn, skip2.crossattn)
        assert torch.equal(skip2.crossattn, webui.sd_model.cond_stage_model.wrapped.transformer.text_model(
            webui.sd_model.cond_stage_model.wrapped.tokenizer(["a red square", "a blue one"]), 2))

        t = torch.tensor([10, 900])
        noisy = torch.randn(2, 4, 8, 8)
        out = model.predict(noisy, t, skip1)
        assert out.shape == noisy.shape
        assert torch.equal(out, webui.sd_model.model.diffusion_model(noisy, t, skip1.crossattn))

        model.set_gradient_checkpointing(True)
        patched = [m for m in model.unet.modules() if "forward" in m.__dict__]
        assert patched and {type(m).__name__ for m in patched} <= {"ResBlock", "BasicTransformerBlock"}
        with torch.no_grad():
            assert torch.equal(model.predict(noisy, t, skip1), out)
        model.set_gradient_checkpointing(False)
        assert not [m for m in model.unet.modules() if "forward" in m.__dict__]
    assert webui.shared.opts.CLIP_stop_at_last_layers == 2


def test_gradient_checkpointing_keeps_the_lora_gradients(webui, host, tmp_path):
    data = make_concept_folder(tmp_path / "data", n=4)
    results = []
    for checkpointing in (False, True):
        config = tiny_config(tmp_path / str(checkpointing), data, max_train_epochs=1, gradient_checkpointing=checkpointing)
        with host.gpu_lock("train"), host.trainable_model() as model:
            results.append(Trainer(model, config).run().losses)
    assert results[0] == pytest.approx(results[1], rel=1e-4, abs=1e-6)


# -- applied LoRA weights and the model afterwards ------------------------------------------------------
def test_merged_lora_weights_are_restored_before_training(webui, host, tmp_path):
    clean = clean_state(webui.sd_model)
    merge_like_a_generation(webui, write_lora(tmp_path / "l.safetensors", webui.sd_model))
    merged = webui.sd_model.get_submodule(MERGED_UNET).weight.detach().clone()
    assert not torch.equal(merged, clean[MERGED_UNET + ".weight"])  # the generation really merged it
    webui.sd_model.requires_grad_(True)  # as WebUI leaves a loaded model: requires_grad is not cleared

    with host.gpu_lock("train"), host.trainable_model() as model:
        assert_weights(model.root, clean)
        assert webui.networks.loaded_networks == []
        assert getattr(model.root.get_submodule(MERGED_UNET), "network_weights_backup", None) is None

    # The next generation with the LoRA merges it again from the clean weights.
    merge_like_a_generation(webui, tmp_path / "l.safetensors")
    assert torch.equal(webui.sd_model.get_submodule(MERGED_UNET).weight, merged)


def test_a_job_leaves_no_lora_merged_and_frees_the_backups(webui, host, tmp_path):
    """A preview merges its LoRA into WebUI's layers and WebUI keeps a CPU copy of each; at the end of
    our job the checkpoint's weights are back and the copies are gone (GBs for SDXL)."""
    clean = clean_state(webui.sd_model)
    with host.gpu_lock("preview"):
        merge_like_a_generation(webui, write_lora(tmp_path / "l.safetensors", webui.sd_model))
        assert getattr(webui.sd_model.get_submodule(MERGED_UNET), "network_weights_backup", None) is not None
    assert_weights(webui.sd_model, clean)
    assert all(getattr(m, "network_weights_backup", None) is None for m in webui.sd_model.modules())


@pytest.mark.parametrize("ending", ["finished", "interrupted", "failed"])
def test_nothing_is_left_changed_after_training(webui, host, tmp_path, ending):
    merge_like_a_generation(webui, write_lora(tmp_path / "l.safetensors", webui.sd_model))
    webui.shared.loaded_hypernetworks.append("a hypernetwork")
    webui.shared.opts.CLIP_stop_at_last_layers = 2
    model_root = webui.sd_model
    model_root.requires_grad_(True)
    model_root.first_stage_model.train()  # odd flags on purpose: they must come back as they were
    with torch.no_grad():
        for module in model_root.modules():  # what the clean (restored) model will look like
            webui.networks.network_restore_weights_from_backup(module)
    before = snapshot(model_root)
    merge_like_a_generation(webui, tmp_path / "l.safetensors", name="again")

    data = make_concept_folder(tmp_path / "data", n=4)
    config = tiny_config(tmp_path, data, max_train_epochs=2, train_batch_size=2, clip_skip=1)
    seen = {}

    def on_progress(progress):
        seen["hypernetworks"] = list(webui.shared.loaded_hypernetworks)
        if ending == "failed":
            raise RuntimeError("boom")

    # A sample rendered during training leaves its conditioning (text encoder LoRA included) cached.
    webui.processing.StableDiffusionProcessing.cached_c = [("a prompt",), "conditioning with the LoRA"]
    stop = threading.Event()
    if ending == "interrupted":
        stop.set()
    with host.gpu_lock("train"):
        if ending == "failed":
            with pytest.raises(RuntimeError, match="boom"), host.trainable_model() as model:
                Trainer(model, config, on_progress=on_progress).run()
        else:
            with host.trainable_model() as model:
                result = Trainer(model, config, on_progress=on_progress, stop=stop).run()
            assert result.interrupted == (ending == "interrupted")
            assert bool(result.checkpoints) == (ending == "finished")

    assert seen.get("hypernetworks", []) == []  # put aside during training...
    assert webui.shared.loaded_hypernetworks == ["a hypernetwork"]  # ...and back afterwards
    assert webui.shared.opts.CLIP_stop_at_last_layers == 2
    assert webui.networks.loaded_networks == []
    assert webui.processing.StableDiffusionProcessing.cached_c == [None, None]
    assert_same(before, snapshot(model_root))
    assert webui.sd_models.reloads == []  # nothing needed repairing


def test_a_changed_weight_is_repaired_by_reloading_the_checkpoint(webui, host):
    clean = clean_state(webui.sd_model)
    with host.gpu_lock("train"), host.trainable_model() as model, torch.no_grad():
        model.root.get_submodule(MERGED_UNET).weight[0, 0] += 1e-3
    assert len(webui.sd_models.reloads) == 1 and webui.sd_models.reloads[0][1] is True  # forced reload
    assert_weights(webui.sd_model, clean)


def test_a_change_a_reload_cannot_repair_is_a_clear_error(webui, host, monkeypatch):
    from model_workbench.webui.model_guard import ModelChangedError

    monkeypatch.setattr(webui.sd_models, "reload_model_weights", lambda *a, **k: None)
    with (pytest.raises(ModelChangedError, match="Reload the checkpoint") as caught, host.gpu_lock("train"),
          host.trainable_model() as model, torch.no_grad()):
        model.root.get_submodule(MERGED_TE).bias.mul_(2)
    assert MERGED_TE + ".bias" in str(caught.value)


def test_fingerprint_sees_any_single_bit(webui):
    from model_workbench.webui.fingerprint import differences, fingerprint, model_tensors

    model = webui.sd_model
    before = fingerprint(model_tensors(model))
    weight = model.get_submodule(MERGED_TE).weight
    with torch.no_grad():
        bits = weight.view(torch.int32)
        bits[3, 5] ^= 1  # the lowest mantissa bit of one element
    assert differences(before, fingerprint(model_tensors(model))) == [MERGED_TE + ".weight"]
    with torch.no_grad():
        bits[3, 5] ^= 1
    assert differences(before, fingerprint(model_tensors(model))) == []


# -- refusals -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["lowvram", "medvram"])
def test_low_vram_modes_are_refused(webui, host, flag):
    setattr(webui.shared.cmd_opts, flag, True)
    with pytest.raises(HostFeatureUnavailable, match=f"--{flag}.*Restart WebUI without"), host.trainable_model():
        pass


def test_fp8_weights_are_refused(webui, host):
    webui.devices.fp8 = True
    with pytest.raises(HostFeatureUnavailable, match="FP8"), host.trainable_model():
        pass


def test_no_model_is_refused(webui, host):
    webui.shared.sd_model = None
    with pytest.raises(HostFeatureUnavailable, match="No checkpoint is loaded"), host.trainable_model():
        pass


def test_inpainting_model_is_refused(webui, host):
    webui.sd_model.model.conditioning_key = "hybrid"
    with pytest.raises(HostFeatureUnavailable, match="inpainting"), host.trainable_model():
        pass


# -- SDXL ---------------------------------------------------------------------------------------------
@pytest.fixture
def sdxl(webui):
    webui.sd_model = importlib.import_module("fake_sd_model").FakeSDXLModel(seed=5)
    webui.shared.sd_model = webui.sd_model
    return webui


def test_sdxl_fields_and_per_sample_size_conditioning(sdxl, host):
    from model_workbench.training.protocol import SizeInfo

    sizes = [SizeInfo((64, 64), (0, 0), (64, 64)), SizeInfo((128, 96), (16, 0), (64, 64))]
    with host.gpu_lock("train"), host.trainable_model() as model:
        assert model.family == "sdxl" and model.alphas_cumprod is sdxl.sd_model.alphas_cumprod
        assert [type(e).__name__ for e in model.text_encoders] == ["FakeSDXLCLIPEmbedder", "FakeSDXLOpenCLIPEmbedder2"]
        cond = model.encode_captions(["same caption", "same caption"], 1, sizes)
        assert cond.crossattn.shape == (2, 16, 32) and cond.vector.shape == (2, 64)
        assert torch.equal(cond.crossattn[0], cond.crossattn[1])
        assert not torch.equal(cond.vector[0], cond.vector[1])  # each sample's own size embedding
        latents = model.encode_images(torch.zeros(1, 3, 64, 64))
        assert latents.shape == (1, 4, 8, 8)
        assert model.predict(torch.randn(2, 4, 8, 8), torch.tensor([1, 500]), cond).shape == (2, 4, 8, 8)
    assert [e.is_trainable for e in sdxl.sd_model.conditioner.embedders] == [False] * 5


def test_sdxl_text_encoder_loras_get_gradients_and_the_model_is_unchanged(sdxl, host, tmp_path):
    from safetensors.torch import load_file

    before = snapshot(sdxl.sd_model)
    data = make_concept_folder(tmp_path / "data", n=4)
    config = tiny_config(tmp_path, data, max_train_epochs=1, text_encoder_lr=1e-2)
    with host.gpu_lock("train"), host.trainable_model() as model:
        result = Trainer(model, config).run()
    tensors = load_file(str(result.checkpoints[-1]))
    for prefix in ("lora_te1_", "lora_te2_", "lora_unet_"):
        ups = [v for k, v in tensors.items() if k.startswith(prefix) and k.endswith("lora_up.weight")]
        assert ups and any(v.abs().sum() > 0 for v in ups), prefix  # lora_up starts at zero: it learned
    assert_same(before, snapshot(sdxl.sd_model))
    assert sdxl.sd_models.reloads == []


def test_sd2_v_model_is_recognised(webui, host):
    webui.sd_model.is_sd1, webui.sd_model.is_sd2, webui.sd_model.parameterization = False, True, "v"
    with host.gpu_lock("train"), host.trainable_model() as model:
        assert model.family == "sd2" and model.prediction_type == "v"


def test_a_model_of_another_family_is_refused(webui, host):
    webui.sd_model.is_sd1, webui.sd_model.is_sd3 = False, True
    with pytest.raises(HostFeatureUnavailable, match="not SD 1.x, SD 2.x or SDXL"), host.trainable_model():
        pass


def test_fingerprint_chunks_add_up_to_the_whole_weighted_sum(monkeypatch):
    from model_workbench.webui import fingerprint as fp

    values = torch.tensor([3.5, -1.25, 0.0, -0.0, 7.0, 1e-8, -2.0, 65504.0, 0.5, 11.0, -3.0], dtype=torch.float16)
    bits = [int(b) for b in values.view(torch.int16)]
    expected = sum(b * (i * 2 * fp._MULTIPLIER + 1) for i, b in enumerate(bits))
    expected = (expected + 2**63) % 2**64 - 2**63
    assert fp.tensor_print(values).bits == expected  # one chunk
    monkeypatch.setattr(fp, "CHUNK", 4)
    monkeypatch.setattr(fp, "_weights_cache", {})
    assert fp.tensor_print(values).bits == expected  # three chunks, same sum
    assert fp.tensor_print(values.reshape(1, 11)).shape == (1, 11)


def test_an_alternative_unet_is_refused(webui, host):
    from types import SimpleNamespace

    sd_unet = importlib.import_module("modules.sd_unet")
    sd_unet.current_unet_option = SimpleNamespace(label="TensorRT: tiny")
    sd_unet.current_unet = object()
    with pytest.raises(HostFeatureUnavailable, match=r"alternative UNet \(TensorRT: tiny\)"), host.trainable_model():
        pass
