"""WebUI module names → kohya keys, checked against the fixture tables key for key and count for
count, for SD1.5, SD2 and SDXL: the pure name functions on every row (and every alias), and the
whole pipeline (target discovery + LoRA network) on a meta-device copy of WebUI's module tree
rebuilt from the fixture."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from model_workbench.training.naming import kohya_key, targets_for
from model_workbench.training.network import LoRANetwork, find_targets

DATA = Path(__file__).resolve().parents[1] / "data" / "lora-keys"
FAMILIES = {"sd15": "sd1", "sd2": "sd2", "sdxl": "sdxl"}
RANK = 4


def load(name: str) -> dict:
    return json.loads((DATA / f"lora-keys-{name}.json").read_text(encoding="utf-8"))


def projection_of(row: dict) -> str | None:
    if row["webui_kind"] != "MultiheadAttention":
        return None
    start = int(re.search(r"\[(\d+):", row["webui_param"]).group(1))
    return "qkv"[start // row["webui_shape"][0]]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_fixture_row_maps_to_its_kohya_key(name: str) -> None:
    table = load(name)
    family = FAMILIES[name]
    checked = 0
    for row in table["modules"]:
        for webui_name in [row["webui_module"], *row["webui_aliases"]]:
            assert kohya_key(webui_name, family, projection_of(row)) == row["kohya_key"], webui_name
            checked += 1
    assert len(table["modules"]) == table["counts"]["total"]
    assert checked >= table["counts"]["total"]


def test_non_targets_are_not_named() -> None:
    assert targets_for("model.diffusion_model.input_blocks.1.0.in_layers.2", "sd1") == []
    assert targets_for("model.diffusion_model.input_blocks.1.1.norm", "sd1") == []
    assert targets_for("cond_stage_model.wrapped.transformer.text_model.embeddings.token_embedding", "sd1") == []
    # An OpenCLIP attn that is not a MultiheadAttention yields nothing.
    assert targets_for("cond_stage_model.wrapped.model.transformer.resblocks.0.attn", "sd2") == []
    with pytest.raises(ValueError):
        kohya_key("first_stage_model.encoder.conv_in", "sd1")
    with pytest.raises(ValueError):
        targets_for("x", "sd3")


def test_raw_ldm_text_encoder_name_without_hijack_wrapper() -> None:
    # Before WebUI's hijack the SD1 text encoder has no ".wrapped".
    name = "cond_stage_model.transformer.text_model.encoder.layers.3.self_attn.q_proj"
    assert kohya_key(name, "sd1") == "lora_te_text_model_encoder_layers_3_self_attn_q_proj"


@pytest.mark.parametrize("name", list(FAMILIES))
def test_forge_text_encoder_names_give_every_fixture_key(name: str) -> None:
    """Forge holds every text encoder as a transformers CLIPTextModel (kohya's own layout); under
    the names ``forge_trainable.named_root`` gives them, each fixture text-encoder key comes out."""
    family = FAMILIES[name]
    rows = [r for r in load(name)["modules"] if r["part"] != "unet"]
    assert rows
    for row in rows:
        if family == "sdxl":
            index = 0 if row["part"] == "te1" else 1
            forge_name = f"conditioner.embedders.{index}.transformer.{row['kohya_module']}"
        else:
            forge_name = "cond_stage_model.transformer." + row["kohya_module"]
        assert [t.kohya_key for t in targets_for(forge_name, family)] == [row["kohya_key"]], forge_name


# ------------------------------------------------------------------------------------------------
# The same check end to end: a meta-device module tree with WebUI's names, kinds and shapes.
# ------------------------------------------------------------------------------------------------
def _ensure(root: nn.Module, dotted: str) -> nn.Module:
    module = root
    for part in dotted.split("."):
        if not hasattr(module, part):
            module.add_module(part, nn.Module())
        module = getattr(module, part)
    return module


def _leaf(kind: str, shape: list[int]) -> nn.Module:
    if kind == "MultiheadAttention":
        return nn.MultiheadAttention(shape[1], 1)
    if kind == "Conv2d":
        return nn.Conv2d(shape[1], shape[0], tuple(shape[2:]))
    return nn.Linear(shape[1], shape[0])


def build_webui_tree(table: dict, extra_openclip_block: bool = False) -> nn.Module:
    root = nn.Module()
    rows = list(table["modules"])
    if extra_openclip_block:
        # WebUI's SD2 OpenCLIP has a 24th block that no kohya key reaches (fixture "coverage").
        last = max(int(re.search(r"resblocks\.(\d+)\.", r["webui_module"] + ".").group(1))
                   for r in rows if "resblocks" in r["webui_module"])
        extra = []
        for r in rows:
            if f"resblocks.{last}." in r["webui_module"] + ".":
                copy = dict(r)
                copy["webui_module"] = (r["webui_module"] + ".").replace(f"resblocks.{last}.", f"resblocks.{last + 1}.")[:-1]
                extra.append(copy)
        rows += extra
    with torch.device("meta"):
        for row in rows:
            name = row["webui_module"]
            if name.endswith(".attn.out_proj"):
                continue  # created by its MultiheadAttention
            parent, _, leaf = name.rpartition(".")
            holder = _ensure(root, parent)
            if not hasattr(holder, leaf):
                holder.add_module(leaf, _leaf(row["webui_kind"], row["webui_shape"]))
    return root


def _shape(spec: list) -> list[int]:
    return [RANK if d == "r" else d for d in spec]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_network_over_webui_tree_matches_fixture(name: str) -> None:
    table = load(name)
    family = FAMILIES[name]
    root = build_webui_tree(table, extra_openclip_block=(family == "sd2"))
    found = find_targets(root, family)
    expected = {row["kohya_key"]: row for row in table["modules"]}
    keys = [f.target.kohya_key for f in found]
    assert len(keys) == len(set(keys)) == table["counts"]["total"]
    assert set(keys) == set(expected)
    for f in found:  # every key lands on the module WebUI resolves it to
        assert f.webui_name == expected[f.target.kohya_key]["webui_module"]
        assert f.target.part == expected[f.target.kohya_key]["part"]

    network = LoRANetwork(root, family, rank=RANK, alpha=1.0)
    state = network.state_dict()
    assert len(state) == table["counts"]["tensors_per_file"]
    counts: dict[str, int] = {}
    for _t, _lora in network.loras():
        counts[_t.part] = counts.get(_t.part, 0) + 1
    assert counts.get("unet", 0) == table["counts"]["unet"]
    te_total = sum(v for k, v in counts.items() if k != "unet")
    assert te_total == table["counts"]["text_encoder"]

    linear_variant = {m["kohya_key"]: m for m in table.get("variants", {}).get("diffusers_format_source", {}).get(
        "modules_that_differ", [])}
    for key, row in expected.items():
        # SD2's proj_in/proj_out are Linear in WebUI, so our LoRA is the 2-D variant sd-scripts
        # writes from a Diffusers-format SD2 (WebUI reads both).
        ref = linear_variant.get(key, row)
        assert list(state[f"{key}.lora_down.weight"].shape) == _shape(ref["lora_down_shape"]), key
        assert list(state[f"{key}.lora_up.weight"].shape) == _shape(ref["lora_up_shape"]), key
        assert state[f"{key}.alpha"].shape == ()


def test_sd15_shaped_test_model_has_webui_names_and_shapes() -> None:
    """The test suite's model classes at SD1.5 size (on the meta device) expose exactly the
    modules, names and weight shapes of WebUI's SD1.5 for every fixture row."""
    from tests.support.tiny_diffusion import CLIPEmbedderWithCustomWords, DiffusionWrapper, LDMUNetModel

    table = load("sd15")
    with torch.device("meta"):
        root = nn.Module()
        root.model = DiffusionWrapper(LDMUNetModel.sd15())
        root.cond_stage_model = CLIPEmbedderWithCustomWords.sd15()
    found = {f.target.kohya_key: f for f in find_targets(root, "sd1")}
    assert len(found) == table["counts"]["total"]
    for row in table["modules"]:
        f = found[row["kohya_key"]]
        assert f.webui_name == row["webui_module"]
        assert list(f.module.weight.shape) == row["webui_shape"], row["kohya_key"]
        assert type(f.module).__name__ == row["webui_kind"]


# ------------------------------------------------------------------------------------------------
# conv_dim (LoCon): the ResBlock / Downsample / Upsample rows of the fixtures ("conv_modules").
# ------------------------------------------------------------------------------------------------
CONV_FAMILIES = {"sd15": "sd1", "sdxl": "sdxl"}
CONV_RANK = 8


@pytest.mark.parametrize("name", list(CONV_FAMILIES))
def test_every_conv_fixture_row_maps_to_its_kohya_key(name: str) -> None:
    table = load(name)
    family = CONV_FAMILIES[name]
    rows = table["conv_modules"]
    assert len(rows) == table["conv"]["count"] and rows
    for row in rows:
        assert kohya_key(row["webui_module"], family, conv=True) == row["kohya_key"], row["webui_module"]
        # Without conv_dim these modules are no targets (kohya's default list stays as it was).
        assert targets_for(row["webui_module"], family) == []
        [target] = targets_for(row["webui_module"], family, conv=True)
        assert target.part == "unet" and target.conv


@pytest.mark.parametrize("name", list(CONV_FAMILIES))
def test_every_conv_key_maps_to_one_webui_module(name: str) -> None:
    """Each conv key resolves to exactly one WebUI module (the fixture's A1111 resolution), and that
    module is a Linear or Conv2d of the recorded shape."""
    table = load(name)
    rows = table["conv_modules"]
    modules = [row["webui_module"] for row in rows]
    assert len(set(modules)) == len(modules)
    default_modules = {row["webui_module"] for row in table["modules"]}
    assert not default_modules & set(modules)
    assert table["conv"]["unresolved"] == []
    for row in rows:
        assert row["webui_mapping_name"] == row["webui_module"].removeprefix("model.").replace(".", "_")
        assert row["webui_kind"] in ("Conv2d", "Linear") and row["webui_shape"] == row["shape"]


def test_off_layout_samplers_get_names_webui_resolves_by_its_fallback() -> None:
    """A Downsample / Upsample where SD1's layout has none (the tiny test UNet) cannot take a
    diffusers name (WebUI would map it elsewhere): it keeps the LDM path, which WebUI finds through
    its lora_unet → diffusion_model fallback."""
    assert kohya_key("model.diffusion_model.input_blocks.2.0.op", "sd1", conv=True) == "lora_unet_input_blocks_2_0_op"
    assert kohya_key("model.diffusion_model.output_blocks.0.1.conv", "sd1", conv=True) == (
        "lora_unet_output_blocks_0_1_conv")
    assert kohya_key("model.diffusion_model.input_blocks.3.0.op", "sd1", conv=True) == (
        "lora_unet_down_blocks_0_downsamplers_0_conv")


def _conv_leaf(row: dict) -> nn.Module:
    if row["kind"] == "Conv2d":
        shape = row["webui_shape"]
        return nn.Conv2d(shape[1], shape[0], tuple(row["kernel_size"]), tuple(row["stride"]), tuple(row["padding"]))
    return _leaf(row["webui_kind"], row["webui_shape"])


def _rank_of(spec: list) -> list[int]:
    return [CONV_RANK if d == "conv_r" else RANK if d == "r" else d for d in spec]


@pytest.mark.parametrize("name", list(CONV_FAMILIES))
def test_conv_dim_network_over_webui_tree_matches_fixture(name: str) -> None:
    table = load(name)
    family = CONV_FAMILIES[name]
    root = build_webui_tree(table)
    with torch.device("meta"):
        for row in table["conv_modules"]:
            parent, _, leaf = row["webui_module"].rpartition(".")
            _ensure(root, parent).add_module(leaf, _conv_leaf(row))
        # Modules kohya never targets, even with conv_dim: the UNet's conv_in and out.
        _ensure(root, "model.diffusion_model.input_blocks.0").add_module("0", nn.Conv2d(4, 8, 3, padding=1))
        _ensure(root, "model.diffusion_model.out").add_module("2", nn.Conv2d(8, 4, 3, padding=1))

    plain = LoRANetwork(root, family, rank=RANK, alpha=1.0)
    assert len(list(plain.loras())) == table["counts"]["total"]

    network = LoRANetwork(root, family, rank=RANK, alpha=1.0, conv_dim=CONV_RANK, conv_alpha=2.0)
    state = network.state_dict()
    conv_rows = {row["kohya_key"]: row for row in table["conv_modules"]}
    assert len(state) == table["counts"]["tensors_per_file"] + table["conv"]["tensors_per_file"]
    for key, row in conv_rows.items():
        assert list(state[f"{key}.lora_down.weight"].shape) == _rank_of(row["lora_down_shape"]), key
        assert list(state[f"{key}.lora_up.weight"].shape) == _rank_of(row["lora_up_shape"]), key
        lora = network.get_submodule(key)
        if row["rank_from"] == "conv_dim":
            assert float(state[f"{key}.alpha"]) == 2.0
            assert list(lora.lora_down.stride) == row["stride"] and list(lora.lora_down.padding) == row["padding"]
        else:
            assert float(state[f"{key}.alpha"]) == 1.0
