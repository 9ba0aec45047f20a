"""Training on Forge's loaded model through the WebUI host, against a Forge-style fake engine.

The fake (``fake_webui/fake_forge.py``) has what makes Forge's model hard to train: inference-tensor
weights, Linear layers that are not ``nn.Linear``, in-place adds after LayerNorms, patchers that
merge a LoRA into the shared weights, and a text engine that casts the CLIP embeddings to float32.
The same flow ran against a real Forge on the CPU (tests/webui with ``WEBUI_DIR`` at a Forge).
"""

from __future__ import annotations

import functools
import importlib

import pytest
import torch

from model_workbench.host import HostFeatureUnavailable
from model_workbench.training.protocol import TrainableModel
from model_workbench.training.trainer import Trainer
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_training import tiny_config

# The tiny model's default kohya targets: 4 transformer stacks × 12 layers, 2 CLIP layers × 6.
EXPECTED_MODULES = 60


@pytest.fixture
def forge(fake_webui, monkeypatch):
    fake_forge = importlib.import_module("fake_forge")
    mm = importlib.import_module("backend.memory_management")
    mm.current_loaded_models.clear()
    mm.loads.clear()
    fake_webui.fake_forge = fake_forge
    fake_webui.memory_management = mm
    fake_webui.shared.sd_model = fake_forge.FakeForgeSD1(seed=3)
    reloads = []

    def forge_model_reload():
        if fake_webui.sd_models.model_data.forge_hash == "":
            reloads.append(True)
            fake_webui.shared.sd_model = fake_forge.FakeForgeSD1(seed=3)
            fake_webui.sd_models.model_data.forge_hash = "loaded"
        return fake_webui.shared.sd_model, False

    monkeypatch.setattr(fake_webui.sd_models, "forge_model_reload", forge_model_reload, raising=False)
    monkeypatch.setattr(fake_webui.sd_models, "model_data",
                        type("ModelData", (), {"forge_hash": "loaded",
                                               "forge_loading_parameters": {"checkpoint_info": "sd15"}})(),
                        raising=False)
    cache = functools.lru_cache(maxsize=5)(lambda filename: filename)
    monkeypatch.setattr(fake_webui.networks, "load_lora_state_dict", cache, raising=False)
    fake_webui.reloads = reloads
    return fake_webui


def forge_host(monkeypatch, engine="forge", name="Stable Diffusion WebUI Forge"):
    from model_workbench.webui import host as host_module
    from model_workbench.webui import messages
    from model_workbench.webui.host_kind import HostKind

    refusal = messages.LDM_PATCHED.format(name=name) if engine == "ldm_patched" else None
    monkeypatch.setattr(host_module, "detect_host_kind", lambda: HostKind(name, engine, "2.0.1v1.10.1", refusal))
    return host_module.WebuiHost()


def tensors(engine) -> dict[str, torch.Tensor]:
    objects = engine.forge_objects_original
    found = {}
    for prefix, module in (("unet", objects.unet.model.diffusion_model), ("clip", objects.clip.cond_stage_model)):
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            found[f"{prefix}.{name}"] = tensor
    return found


def frozen(engine) -> dict[str, tuple]:
    return {k: (v.detach().clone().float(), v.is_inference(), getattr(v, "requires_grad", False))
            for k, v in tensors(engine).items()}


def assert_unchanged(before, after):
    assert before.keys() == after.keys()
    for key, (value, inference, grad) in before.items():
        assert torch.equal(value, after[key][0]), key
        assert after[key][1] == inference and after[key][2] == grad, key


def test_forge_host_says_it_can_train_and_names_itself(forge, monkeypatch):
    caps = forge_host(monkeypatch).capabilities()
    assert caps.can_train and caps.flavor == "forge"
    assert caps.name.startswith("Stable Diffusion WebUI Forge")
    assert any("Textual Inversion" in note for note in caps.notes)  # Forge has no TI/hypernetwork training


def test_ldm_patched_forge_variant_is_refused_with_its_name(forge, monkeypatch):
    host = forge_host(monkeypatch, engine="ldm_patched", name="reForge / Forge Classic")
    caps = host.capabilities()
    assert not caps.can_train and "ldm_patched" in caps.notes[0] and "reForge" in caps.notes[0]
    with pytest.raises(HostFeatureUnavailable, match="not offered on reForge"), host.trainable_model():
        pass


def test_trainable_model_fields_and_calls(forge, monkeypatch):
    host = forge_host(monkeypatch)
    engine = forge.shared.sd_model
    addresses = {k: t.data_ptr() for k, t in tensors(engine).items()}
    originals = {k: id(t) for k, t in tensors(engine).items()}
    with host.gpu_lock("train"), host.trainable_model() as model:
        assert isinstance(model, TrainableModel)
        # Normal tensors over the very same memory: no weight was copied.
        assert {k: t.data_ptr() for k, t in tensors(engine).items()} == addresses
        assert model.family == "sd1" and model.prediction_type == "epsilon" and model.alphas_cumprod.shape == (1000,)
        names = dict(model.root.named_modules())
        assert "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q" in names
        assert "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj" in names
        # Trainable: no inference tensor left in the UNet or text encoder while training.
        assert not any(t.is_inference() for t in tensors(engine).values())
        pixels = torch.rand(2, 3, 64, 64) * 2 - 1
        latents = model.encode_images(pixels)
        assert latents.shape == (2, 4, 8, 8) and not latents.is_inference()
        cond = model.encode_captions(["a red square", "a blue one"], clip_skip=2)
        assert cond.crossattn.shape[0] == 2 and engine.text_processing_engine.clip_skip == 2
        out = model.predict(torch.randn(2, 4, 8, 8), torch.tensor([10, 900]), cond)
        assert out.shape == (2, 4, 8, 8)
    assert engine.text_processing_engine.clip_skip == 1  # put back
    assert {k: id(t) for k, t in tensors(engine).items()} == originals  # the same objects again


def test_a_lora_trains_on_forge_and_the_model_is_unchanged(forge, monkeypatch, tmp_path):
    host = forge_host(monkeypatch)
    engine = forge.shared.sd_model
    before = frozen(engine)
    data = make_concept_folder(tmp_path / "data", n=4, repeats=1)
    config = tiny_config(tmp_path, data, max_train_epochs=2, learning_rate=5e-2, train_batch_size=2)
    with host.gpu_lock("train"), host.trainable_model() as model:
        result = Trainer(model, config).run()
    assert len(result.checkpoints) == 2
    from safetensors.torch import load_file

    saved = load_file(str(result.checkpoints[-1]))
    assert len(saved) == 3 * EXPECTED_MODULES
    # lora_up starts at zero: non-zero afterwards means gradients reached the text encoder's LoRA
    # (in one probe of a real Forge they came out exactly zero) as well as the UNet's.
    te_up = [v for k, v in saved.items() if k.startswith("lora_te_") and k.endswith("lora_up.weight")]
    unet_up = [v for k, v in saved.items() if k.startswith("lora_unet_") and k.endswith("lora_up.weight")]
    assert len(te_up) == 12 and all(float(v.abs().sum()) > 0 for v in te_up)
    assert all(float(v.abs().sum()) > 0 for v in unet_up)
    # Bits, inference-ness and flags as before; the fp16 embeddings may only have become fp32.
    after = frozen(engine)
    assert_unchanged(before, after)
    assert not forge.reloads


def test_backward_fails_on_forge_weights_without_the_adapter(forge):
    """The fake is faithful: Forge's inference tensors refuse autograd."""
    engine = forge.shared.sd_model
    unet = engine.forge_objects_original.unet.model.diffusion_model
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    with pytest.raises(RuntimeError, match="[Ii]nference"):
        unet(x, torch.tensor([5]), context=torch.randn(1, 16, 32)).sum().backward()


UNET_KEY = "unet.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"


def test_merged_lora_weights_are_put_back_before_training(forge, monkeypatch):
    host = forge_host(monkeypatch)
    engine = forge.shared.sd_model
    mm = forge.memory_management
    clean = frozen(engine)
    fake = forge.fake_forge
    engine.apply_lora("merged.safetensors", {fake.UNET_Q: torch.ones(32, 32)}, {fake.CLIP_Q: torch.ones(32, 32)}, mm)
    weight = engine.forge_objects_original.unet.model.get_parameter(fake.UNET_Q)
    assert not torch.equal(weight, clean[UNET_KEY][0])  # the LoRA is merged now
    engine.forge_objects_after_applying_lora = engine.forge_objects.shallow_copy()
    with host.gpu_lock("train"), host.trainable_model():
        weight = engine.forge_objects_original.unet.model.get_parameter(fake.UNET_Q)
        assert torch.equal(weight, clean[UNET_KEY][0])
    assert engine.current_lora_hash == str([])  # the next generation patches its LoRAs afresh
    assert engine.forge_objects.unet is engine.forge_objects_original.unet


def test_a_changed_weight_is_repaired_by_reloading_the_checkpoint(forge, monkeypatch):
    host = forge_host(monkeypatch)
    with host.gpu_lock("train"), host.trainable_model() as model, torch.no_grad():
        next(model.unet.parameters()).add_(1.0)
    assert forge.reloads == [True]
    assert all(t.is_inference() for t in tensors(forge.shared.sd_model).values())


def test_quantized_unet_is_refused(forge, monkeypatch):
    host = forge_host(monkeypatch)
    forge.shared.sd_model.forge_objects_original.unet.model.storage_dtype = torch.float8_e4m3fn
    assert "float8_e4m3fn" in host.training_refusal()
    with pytest.raises(HostFeatureUnavailable, match="quantized"), host.trainable_model():
        pass


def test_cpu_swapped_model_is_refused(forge, monkeypatch):
    host = forge_host(monkeypatch)
    mm = forge.memory_management
    original = mm.load_models_gpu

    def swapped(models, *args, **kwargs):
        original(models, *args, **kwargs)
        for entry in mm.current_loaded_models:
            entry.model_accelerated = True

    monkeypatch.setattr(mm, "load_models_gpu", swapped)
    engine = forge.shared.sd_model
    before = frozen(engine)
    with pytest.raises(HostFeatureUnavailable, match="CPU memory"), host.trainable_model():
        pass
    assert_unchanged(before, frozen(engine))


def test_a_job_leaves_no_lora_merged_and_forgets_cached_lora_files(forge, monkeypatch):
    """After a preview job on Forge the shared weights are the checkpoint's again, and the next job
    reads LoRA files afresh (a retrained epoch keeps its file name)."""
    host = forge_host(monkeypatch)
    engine = forge.shared.sd_model
    fake, mm = forge.fake_forge, forge.memory_management
    clean = frozen(engine)
    forge.networks.load_lora_state_dict("epoch-1.safetensors")
    assert forge.networks.load_lora_state_dict.cache_info().currsize == 1
    with host.gpu_lock("preview"):
        assert forge.networks.load_lora_state_dict.cache_info().currsize == 0
        engine.apply_lora("epoch-1.safetensors", {fake.UNET_Q: torch.ones(32, 32)}, {}, mm)
    assert_unchanged(clean, frozen(engine))
    assert engine.current_lora_hash == str([])


class _ForgeLoraModule:
    """The three calls of ``backend.patcher.lora`` / ``ldm_patched.modules.lora`` the check uses."""

    def __init__(self, returns_leftovers: bool) -> None:
        self.returns_leftovers = returns_leftovers

    @staticmethod
    def model_lora_keys_unet(model, key_map):
        key_map["lora_unet_a"] = "diffusion_model.a.weight"
        return key_map

    @staticmethod
    def model_lora_keys_clip(model, key_map):
        key_map["lora_te_b"] = "clip_l.b.weight"
        return key_map

    def load_lora(self, lora, to_load):
        patches = {to_load[p]: "patch" for p in to_load if f"{p}.lora_up.weight" in lora}
        if self.returns_leftovers:
            return patches, {}
        return patches


@pytest.mark.parametrize("returns_leftovers", [True, False])
def test_lora_check_through_forge_family_key_maps(forge, tmp_path, returns_leftovers):
    from safetensors.torch import save_file

    from model_workbench.webui.lora_check import check_lora_forge

    path = tmp_path / "x.safetensors"
    state = {f"{p}.{s}": torch.zeros(1) for p in ("lora_unet_a", "lora_te_b", "lora_unet_nowhere")
             for s in ("lora_up.weight", "lora_down.weight", "alpha")}
    save_file(state, str(path))
    from safetensors.torch import load_file

    report = check_lora_forge(path, forge.shared.sd_model, _ForgeLoraModule(returns_leftovers),
                              lambda p, safe_load: load_file(p))
    assert report["modules"] == 2 and report["total_keys"] == 9 and report["matched_keys"] == 6
    assert report["unmatched_keys"] == sorted(k for k in state if k.startswith("lora_unet_nowhere"))
