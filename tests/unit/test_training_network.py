"""LoRA injection: kohya init and scale, the forward it adds, OpenCLIP MultiheadAttention
slices, dropout options, and removal that leaves the model bit for bit as it was."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from model_workbench.training.network import LoRAModule, LoRANetwork
from tests.support.tiny_diffusion import TinyDiffusionModel
from tests.support.tiny_training import assert_same, openclip_root, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def test_kohya_init_scale_and_alpha_default() -> None:
    torch.manual_seed(0)
    lora = LoRAModule(64, 32, rank=8, alpha=4)
    assert lora.scale == 0.5 and float(lora.alpha) == 4.0
    assert torch.count_nonzero(lora.lora_up.weight) == 0
    bound = 1 / math.sqrt(64)  # kaiming_uniform(a=√5) on fan_in 64
    assert lora.lora_down.weight.abs().max() <= bound
    assert lora.lora_down.weight.std() > bound / 3
    assert LoRAModule(8, 8, rank=4, alpha=0).scale == 1.0  # alpha 0/None → rank
    assert LoRAModule(8, 8, rank=4, alpha=None).scale == 1.0
    conv = LoRAModule(16, 16, rank=2, alpha=1, conv=True)
    assert conv.lora_down.weight.shape == (2, 16, 1, 1) and conv.lora_up.weight.shape == (16, 2, 1, 1)


def test_tiny_model_targets_and_parts() -> None:
    model = TinyDiffusionModel()
    net = LoRANetwork(model.root, "sd1", rank=4)
    keys = [t.kohya_key for t, _ in net.loras()]
    # 4 transformer stacks × (proj_in, proj_out, 8 attention linears, 2 ff) + 2 TE layers × 6
    assert len(keys) == 4 * 12 + 2 * 6
    assert "lora_unet_down_blocks_0_attentions_0_proj_in" in keys
    assert "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k" in keys
    assert "lora_unet_up_blocks_0_attentions_2_transformer_blocks_0_ff_net_0_proj" in keys
    assert "lora_te_text_model_encoder_layers_1_mlp_fc2" in keys
    assert len(LoRANetwork(model.root, "sd1", train_text_encoder=False).text_encoder_parameters()) == 0
    assert len(LoRANetwork(model.root, "sd1", train_unet=False).unet_parameters()) == 0


def test_hook_adds_up_down_times_scale_and_remove_is_bit_identical() -> None:
    model = TinyDiffusionModel()
    before = snapshot(model.root)
    net = LoRANetwork(model.root, "sd1", rank=4, alpha=2)
    target = model.unet.input_blocks[1][1].transformer_blocks[0].attn1.to_q
    lora = net.get_submodule("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q")
    nn.init.normal_(lora.lora_up.weight)
    x = torch.randn(2, 5, target.in_features)
    with net:
        got = target(x)
    expected = target(x) + lora.lora_up(lora.lora_down(x)) * 0.5
    torch.testing.assert_close(got, expected)
    assert_same(before, snapshot(model.root))


def test_conv_hook_on_1x1_proj() -> None:
    model = TinyDiffusionModel()
    net = LoRANetwork(model.root, "sd1", rank=2, alpha=2)
    conv = model.unet.middle_block[1].proj_in
    lora = net.get_submodule("lora_unet_mid_block_attentions_0_proj_in")
    nn.init.normal_(lora.lora_up.weight)
    x = torch.randn(1, conv.in_channels, 4, 4)
    w = conv.weight + (lora.lora_up.weight.flatten(1) @ lora.lora_down.weight.flatten(1))[:, :, None, None]
    with net:
        torch.testing.assert_close(conv(x), nn.functional.conv2d(x, w, conv.bias), rtol=1e-4, atol=1e-5)


def test_context_manager_removes_on_exception() -> None:
    model = TinyDiffusionModel()
    before = snapshot(model.root)
    net = LoRANetwork(model.root, "sd1")
    with pytest.raises(RuntimeError), net:
        assert snapshot(model.root)["hooks"] > before["hooks"]
        raise RuntimeError("boom")
    assert_same(before, snapshot(model.root))
    assert not net.applied


def test_multihead_attention_gets_qkv_slices_and_out_proj() -> None:
    torch.manual_seed(0)
    root = openclip_root()
    before = snapshot(root)
    net = LoRANetwork(root, "sd2", rank=2, alpha=1)
    keys = {t.kohya_key for t, _ in net.loras()}
    # SD2: the last OpenCLIP block gets no LoRA (kohya's SD2 text encoder has one layer less).
    assert keys == {
        f"lora_te_text_model_encoder_layers_{i}_{leaf}"
        for i in range(2)
        for leaf in ("self_attn_q_proj", "self_attn_k_proj", "self_attn_v_proj", "self_attn_out_proj", "mlp_fc1", "mlp_fc2")
    }
    for _t, lora in net.loras():
        nn.init.normal_(lora.lora_up.weight, std=0.1)
    mha = root.cond_stage_model.wrapped.model.transformer.resblocks[0].attn
    x = torch.randn(4, 2, 16)
    with net:
        got = mha(x, x, x, need_weights=False)[0]
    deltas = []
    for p in "qkv":
        lora = net.get_submodule(f"lora_te_text_model_encoder_layers_0_self_attn_{p}_proj")
        deltas.append(lora.lora_up.weight @ lora.lora_down.weight * lora.scale)
    out_lora = net.get_submodule("lora_te_text_model_encoder_layers_0_self_attn_out_proj")
    merged = nn.MultiheadAttention(16, 2)
    with torch.no_grad():
        merged.in_proj_weight.copy_(mha.in_proj_weight + torch.cat(deltas))
        merged.in_proj_bias.copy_(mha.in_proj_bias)
        merged.out_proj.weight.copy_(mha.out_proj.weight + out_lora.lora_up.weight @ out_lora.lora_down.weight * out_lora.scale)
        merged.out_proj.bias.copy_(mha.out_proj.bias)
    torch.testing.assert_close(got, merged(x, x, x, need_weights=False)[0], rtol=1e-4, atol=1e-5)
    # gradients reach the q/k/v LoRAs through the swapped-in weight
    with net:
        mha(x, x, x, need_weights=False)[0].sum().backward()
    assert net.get_submodule("lora_te_text_model_encoder_layers_0_self_attn_v_proj").lora_up.weight.grad is not None
    assert_same(before, snapshot(root))


def test_dropout_options_only_act_in_training() -> None:
    torch.manual_seed(0)
    lora = LoRAModule(8, 8, rank=4, alpha=4, dropout=0.5, rank_dropout=0.5, module_dropout=0.5)
    nn.init.normal_(lora.lora_up.weight)
    x = torch.randn(3, 8)
    lora.eval()
    first = lora.delta(x)
    assert first is not None and torch.equal(first, lora.delta(x))
    lora.train()
    outs = [lora.delta(x) for _ in range(40)]
    assert any(o is None for o in outs)  # module dropout skipped some calls
    live = [o for o in outs if o is not None]
    assert any(not torch.equal(live[0], o) for o in live[1:])  # neuron/rank dropout vary


def test_conv_dim_adds_resblock_and_sampler_loras_to_the_tiny_model() -> None:
    model = TinyDiffusionModel()
    plain = {t.kohya_key for t, _ in LoRANetwork(model.root, "sd1", rank=4).loras()}
    net = LoRANetwork(model.root, "sd1", rank=4, alpha=1, conv_dim=2, conv_alpha=1)
    extra = {t.kohya_key: lora for t, lora in net.loras()}
    assert plain < set(extra)
    # 6 ResBlocks × (conv1, conv2, time_emb_proj) + 3 shortcuts (output ResBlocks) + the two samplers.
    assert len(set(extra) - plain) == 6 * 3 + 3 + 2
    down = extra["lora_unet_down_blocks_0_resnets_0_conv1"]
    assert down.lora_down.weight.shape == (2, 32, 3, 3) and down.lora_up.weight.shape == (32, 2, 1, 1)
    assert extra["lora_unet_down_blocks_0_resnets_0_time_emb_proj"].rank == 4
    assert extra["lora_unet_up_blocks_0_resnets_0_conv_shortcut"].lora_down.weight.shape == (4, 64, 1, 1)
    assert extra["lora_unet_input_blocks_2_0_op"].lora_down.stride == (2, 2)
    assert "lora_unet_output_blocks_0_1_conv" in extra


def test_conv_hook_on_3x3_and_strided_convs_equals_the_merged_weight() -> None:
    model = TinyDiffusionModel()
    before = snapshot(model.root)
    net = LoRANetwork(model.root, "sd1", rank=4, alpha=1, conv_dim=3, conv_alpha=6)
    for module_name, key in (("input_blocks.1.0.in_layers.2", "lora_unet_down_blocks_0_resnets_0_conv1"),
                             ("input_blocks.2.0.op", "lora_unet_input_blocks_2_0_op")):
        conv = model.unet.get_submodule(module_name)
        lora = net.get_submodule(key)
        assert lora.scale == 2.0
        nn.init.normal_(lora.lora_up.weight)
        x = torch.randn(1, conv.in_channels, 8, 8)
        # WebUI's merge: ΔW = up (out×r) · down (r×in·k·k), reshaped to the conv's weight.
        delta = (lora.lora_up.weight.flatten(1) @ lora.lora_down.weight.flatten(1)).reshape(conv.weight.shape)
        expected = nn.functional.conv2d(x, conv.weight + delta * 2.0, conv.bias, conv.stride, conv.padding)
        with net:
            torch.testing.assert_close(conv(x), expected, rtol=1e-4, atol=1e-5)
    assert_same(before, snapshot(model.root))
