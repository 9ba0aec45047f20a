"""Kind detection from real header layouts: checkpoints, LoRAs (kohya, LyCORIS, PEFT), embeddings, VAE, ControlNet."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_workbench.huggingface.types import FileKind
from model_workbench.library import file_kind_messages as m
from model_workbench.library.file_kinds import classify_by_name, classify_header, diffusers_component_paths
from model_workbench.library.safetensors_header import read_safetensors_header
from tests.support.safetensors_files import (
    checkpoint_tensors,
    kohya_lora_tensors,
    peft_lora_tensors,
    write_safetensors,
)


def kind_of(tmp_path: Path, tensors: dict, metadata: dict | None = None, *, forge: bool = False) -> FileKind:
    path = write_safetensors(tmp_path / "m.safetensors", tensors, metadata, with_data=False)
    return classify_header(read_safetensors_header(str(path)), forge=forge)


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_checkpoints_by_family(tmp_path: Path, family: str) -> None:
    assert kind_of(tmp_path, checkpoint_tensors(family)) == FileKind("checkpoint", family, "ldm")


def test_flux_checkpoint_loads_in_forge_only(tmp_path: Path) -> None:
    webui = kind_of(tmp_path, checkpoint_tensors("flux"))
    assert (webui.kind, webui.family, webui.loadable, webui.reason) == ("checkpoint", "flux", False,
                                                                         m.MSG_FLUX_NOT_LOADABLE)
    assert kind_of(tmp_path, checkpoint_tensors("flux"), forge=True).loadable


@pytest.mark.parametrize(("table", "family"), [("sd15", "sd1"), ("sd2", "sd2"), ("sdxl", "sdxl")])
def test_kohya_loras_from_the_real_key_tables(tmp_path: Path, table: str, family: str) -> None:
    assert kind_of(tmp_path, kohya_lora_tensors(table)) == FileKind("lora", family, "kohya")


def test_lycoris_loha_is_a_lora(tmp_path: Path) -> None:
    key = "lora_te1_text_model_encoder_layers_0_self_attn_k_proj"
    kind = kind_of(tmp_path, {f"{key}.hada_w1_a": [768, 4], f"{key}.hada_w1_b": [4, 768], f"{key}.alpha": []})
    assert (kind.kind, kind.family, kind.format, kind.loadable) == ("lora", "sdxl", "lycoris", True)


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_peft_loras_are_recognised_and_refused_by_webui_but_not_forge(tmp_path: Path, family: str) -> None:
    webui = kind_of(tmp_path, peft_lora_tensors(family))
    assert webui == FileKind("lora", family, "peft", loadable=False, reason=m.MSG_PEFT_LORA_NOT_LOADABLE)
    assert kind_of(tmp_path, peft_lora_tensors(family), forge=True) == FileKind("lora", family, "peft")


def test_flux_peft_lora(tmp_path: Path) -> None:
    kind = kind_of(tmp_path, peft_lora_tensors("flux"))
    assert (kind.kind, kind.family, kind.format, kind.loadable) == ("lora", "flux", "peft", False)


def test_sd3_peft_lora_loads_in_webui_through_its_diffusers_weight_map(tmp_path: Path) -> None:
    tensors = {"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": [4, 1536],
               "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": [1536, 4]}
    assert kind_of(tmp_path, tensors) == FileKind("lora", "sd3", "peft")


@pytest.mark.parametrize(("tensors", "family"), [
    ({"emb_params": [2, 768]}, "sd1"),
    ({"emb_params": [2, 1024]}, "sd2"),
    ({"clip_l": [4, 768], "clip_g": [4, 1280]}, "sdxl"),
    ({"string_to_param.*": [3, 768]}, "sd1"),
])
def test_embeddings(tmp_path: Path, tensors: dict, family: str) -> None:
    assert kind_of(tmp_path, tensors) == FileKind("embedding", family, "webui")


def test_vae_ldm_and_diffusers(tmp_path: Path) -> None:
    ldm = {"encoder.down.0.block.0.conv1.weight": [128, 128, 3, 3], "decoder.up.0.block.0.conv1.weight": [128, 128, 3, 3],
           "quant_conv.weight": [8, 8, 1, 1]}
    assert kind_of(tmp_path, ldm) == FileKind("vae", "", "ldm")
    diffusers = {"encoder.down_blocks.0.resnets.0.conv1.weight": [128, 128, 3, 3],
                 "decoder.up_blocks.0.resnets.0.conv1.weight": [512, 512, 3, 3]}
    assert kind_of(tmp_path, diffusers) == FileKind("vae", "", "diffusers", loadable=False, reason=m.MSG_DIFFUSERS_VAE)


def test_controlnets(tmp_path: Path) -> None:
    ldm = {"control_model.input_hint_block.0.weight": [16, 3, 3, 3],
           "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
           "control_model.zero_convs.0.0.weight": [320, 320, 1, 1]}
    assert kind_of(tmp_path, ldm) == FileKind("controlnet", "sd1", "ldm")
    diffusers = {"controlnet_cond_embedding.conv_in.weight": [16, 3, 3, 3],
                 "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
                 "controlnet_down_blocks.0.weight": [320, 320, 1, 1]}
    assert kind_of(tmp_path, diffusers) == FileKind("controlnet", "sdxl", "diffusers")


def test_a_diffusers_unet_alone_and_an_unknown_layout(tmp_path: Path) -> None:
    unet = kind_of(tmp_path, {"down_blocks.0.resnets.0.conv1.weight": [320, 320, 3, 3], "conv_in.weight": [320, 4, 3, 3]})
    assert (unet.format, unet.loadable, unet.reason) == ("diffusers", False, m.MSG_DIFFUSERS_FOLDER)
    other = kind_of(tmp_path, {"weight": [2]})
    assert (other.kind, other.note) == ("", m.MSG_UNKNOWN_LAYOUT)


def test_diffusers_folder_layout_keeps_root_single_files() -> None:
    paths = ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
             "text_encoder/model.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors",
             "sd_xl_base_1.0.safetensors", "README.md"]
    assert diffusers_component_paths(paths) == {"unet/diffusion_pytorch_model.safetensors",
                                                "text_encoder/model.safetensors",
                                                "vae/diffusion_pytorch_model.fp16.safetensors"}
    controlnet_repo = ["config.json", "diffusion_pytorch_model.safetensors", "README.md"]
    assert diffusers_component_paths(controlnet_repo) == {"diffusion_pytorch_model.safetensors"}
    assert diffusers_component_paths(["pytorch_lora_weights.safetensors", "README.md"]) == set()


@pytest.mark.parametrize(("path", "size", "kind"), [
    ("v1-5-pruned-emaonly.ckpt", 4_265_380_512, "checkpoint"),
    ("learned_embeds.bin", 3_819, "embedding"),
    ("style.pt", 25_000, "embedding"),
    ("vae-ft-mse-840000-ema-pruned.ckpt", 334_695_179, "vae"),
    ("my_lora.pt", 150_000_000, "lora"),
    ("control_sd15_canny.pth", 5_710_753_329, "controlnet"),
])
def test_pickles_are_guessed_by_name_and_size(path: str, size: int, kind: str) -> None:
    guess = classify_by_name(path, size)
    assert (guess.kind, guess.format, guess.note) == (kind, "", m.MSG_PICKLE_WARNING)
