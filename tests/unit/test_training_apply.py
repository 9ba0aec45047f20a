"""Applying a kohya file the WebUI way: W + up·down·alpha/rank·multiplier, te/unet multipliers,
1×1 conv reshape, OpenCLIP q/k/v row slices (only with all four of q, k, v, out), exact restore."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from model_workbench.training.apply import applied_lora
from model_workbench.training.network import LoRANetwork
from tests.support.tiny_diffusion import TinyDiffusionModel
from tests.support.tiny_training import assert_same, openclip_root, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def randomised(network: LoRANetwork) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    for _t, lora in network.loras():
        nn.init.normal_(lora.lora_up.weight, std=0.05)
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def test_tiny_model_merge_matches_network_and_multipliers() -> None:
    model = TinyDiffusionModel()
    before = snapshot(model.root)
    net = LoRANetwork(model.root, "sd1", rank=4, alpha=2)
    tensors = randomised(net)
    net.eval()
    x = torch.randn(1, 4, 8, 8)
    t = torch.tensor([300])
    with torch.no_grad():
        with net:
            expected = model.predict(x, t, model.encode_captions(["a cat"]))
        with applied_lora(model.root, "sd1", tensors) as unmatched:
            got = model.predict(x, t, model.encode_captions(["a cat"]))
        assert unmatched == []
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        # te multiplier 0: only the UNet part applies
        net_unet = LoRANetwork(model.root, "sd1", rank=4, alpha=2, train_text_encoder=False)
        net_unet.load_state_dict({k: v for k, v in tensors.items() if k.startswith("lora_unet")})
        net_unet.eval()
        with net_unet:
            unet_only = model.predict(x, t, model.encode_captions(["a cat"]))
        with applied_lora(model.root, "sd1", tensors, multiplier=1.0, te_multiplier=0.0):
            torch.testing.assert_close(model.predict(x, t, model.encode_captions(["a cat"])), unet_only, rtol=1e-4, atol=1e-5)
    assert_same(before, snapshot(model.root))


def test_restores_weights_when_the_body_raises() -> None:
    model = TinyDiffusionModel()
    before = snapshot(model.root)
    tensors = randomised(LoRANetwork(model.root, "sd1"))
    with pytest.raises(KeyError), applied_lora(model.root, "sd1", tensors):
        raise KeyError("x")
    assert_same(before, snapshot(model.root))


def test_openclip_slices_need_all_four_like_webui() -> None:
    root = openclip_root(dim=16, blocks=3)
    before = snapshot(root)
    net = LoRANetwork(root, "sd2", rank=2, alpha=1)
    tensors = randomised(net)
    net.eval()
    mha = root.cond_stage_model.wrapped.model.transformer.resblocks[0].attn
    x = torch.randn(4, 2, 16)
    with torch.no_grad():
        with net:
            expected = mha(x, x, x, need_weights=False)[0]
        with applied_lora(root, "sd2", tensors) as unmatched:
            assert unmatched == []
            torch.testing.assert_close(mha(x, x, x, need_weights=False)[0], expected, rtol=1e-4, atol=1e-5)
        assert_same(before, snapshot(root))
        without_v = {k: v for k, v in tensors.items() if "layers_0_self_attn_v_proj" not in k}
        with applied_lora(root, "sd2", without_v) as unmatched:
            assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj" in unmatched
            assert torch.equal(mha.in_proj_weight, before["state"]["cond_stage_model.wrapped.model.transformer.resblocks.0.attn.in_proj_weight"])
    assert_same(before, snapshot(root))


def test_4d_proj_tensors_land_on_linear_modules() -> None:
    # sd-scripts saves SD2 proj_in as a 1×1 conv LoRA; WebUI's module is a Linear: reshape.
    root = nn.Module()
    root.model = nn.Module()
    root.model.diffusion_model = nn.Module()
    root.model.diffusion_model.middle_block = nn.ModuleList([nn.Identity(), nn.Module()])
    root.model.diffusion_model.middle_block[1].proj_in = nn.Linear(8, 8)
    linear = root.model.diffusion_model.middle_block[1].proj_in
    up, down = torch.randn(8, 2, 1, 1), torch.randn(2, 8, 1, 1)
    tensors = {"lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": up,
               "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": down,
               "lora_unet_mid_block_attentions_0_proj_in.alpha": torch.tensor(1.0)}
    original = linear.weight.detach().clone()
    with applied_lora(root, "sd2", tensors, multiplier=0.5):
        torch.testing.assert_close(linear.weight, original + 0.5 * 0.5 * (up.flatten(1) @ down.flatten(1)))
    assert torch.equal(linear.weight, original)
