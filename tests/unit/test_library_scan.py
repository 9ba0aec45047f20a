"""Library scan: kinds, names, sidecars, hidden folders, and base-model detection from headers."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from model_workbench.library import header_cache as header_cache_module
from model_workbench.library.base_model import guess_base_model
from model_workbench.library.header_cache import HeaderInfoCache
from model_workbench.library.kinds import ModelKind, is_model_file, parse_kind, webui_hash_title
from model_workbench.library.safetensors_header import HeaderError, read_safetensors_header
from model_workbench.library.scan import LibraryScanner
from tests.support.safetensors_files import kohya_lora_tensors, write_safetensors


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, list[str]]:
    models = tmp_path / "models"
    sd = models / "Stable-diffusion"
    write_safetensors(sd / "sdxl" / "juggernaut.safetensors", {"conditioner.embedders.1.model.ln_final.weight": [4]})
    touch(sd / "old.ckpt")
    touch(sd / "old.vae.safetensors")  # a VAE beside checkpoints: not a checkpoint
    touch(sd / "notes.txt")
    lora = models / "Lora"
    write_safetensors(
        lora / "style" / "ink.safetensors",
        {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [4, 320]},
        {"ss_base_model_version": "sdxl_base_v1-0", "ss_output_name": "ink_style"},
    )
    touch(lora / "style" / "ink.preview.png")
    touch(lora / "style" / "ink.json", b"{}")
    touch(lora / "style" / "ink.civitai.info", b"{}")
    touch(lora / "loha.safetensors.part")  # a download in progress
    write_safetensors(
        lora / "loha.safetensors",
        {"lora_unet_mid_block_attentions_0_proj_in.hada_w1_a": [320, 4]},
        {"ss_network_module": "lycoris.kohya"},
    )
    touch(lora / "loha.png")  # WebUI also shows <stem>.png as the preview
    touch(lora / ".trash" / "deleted.safetensors")
    touch(lora / "._ink.safetensors")  # macOS resource fork junk
    lyco = models / "LyCORIS"
    touch(lyco / "legacy.pt")
    emb = tmp_path / "embeddings"
    write_safetensors(emb / "bad-hands.safetensors", {"emb_params": [8, 768]})
    touch(emb / "easyneg.pt")
    touch(emb / "easyneg.preview.png")
    touch(emb / "vectors.bin")
    hyper = models / "hypernetworks"
    touch(hyper / "anime.pt")
    touch(hyper / "anime.safetensors")  # WebUI only loads .pt hypernetworks
    vae = models / "VAE"
    touch(vae / "sdxl_vae.safetensors")
    touch(vae / "kl-f8.pt")
    return {
        "checkpoint": [str(sd), str(tmp_path / "no-such-folder")],
        "lora": [str(lora), str(lyco)],
        "embedding": [str(emb)],
        "hypernetwork": [str(hyper)],
        "vae": [str(vae)],
    }


def test_scan_finds_every_kind_with_webui_names(tree: dict[str, list[str]]) -> None:
    result = LibraryScanner().scan(tree)
    names = {(r.kind.value, r.name) for r in result.records}
    assert names == {
        ("checkpoint", "old"),
        ("checkpoint", "sdxl/juggernaut"),
        ("lora", "loha"),
        ("lora", "style/ink"),
        ("lora", "legacy"),
        ("embedding", "bad-hands"),
        ("embedding", "easyneg"),
        ("embedding", "vectors"),
        ("hypernetwork", "anime"),
        ("vae", "kl-f8"),
        ("vae", "sdxl_vae"),
    }
    assert result.missing_folders == [os.path.abspath(tree["checkpoint"][1])]
    assert result.errors == []
    # Natural order within a kind, kinds in a fixed order.
    assert [r.name for r in result.by_kind("checkpoint")] == ["old", "sdxl/juggernaut"]
    record = next(r for r in result.records if r.name == "sdxl/juggernaut")
    assert record.size == os.path.getsize(record.path)
    assert record.mtime_ns == os.stat(record.path).st_mtime_ns
    assert record.webui_hash_title == "checkpoint/" + os.path.join("sdxl", "juggernaut.safetensors")


def test_scan_reports_sidecars(tree: dict[str, list[str]]) -> None:
    records = {r.name: r for r in LibraryScanner().scan(tree).records}
    ink = records["style/ink"]
    assert ink.preview_path and ink.preview_path.endswith("ink.preview.png")
    assert ink.has_user_metadata and ink.has_civitai_info
    assert ink.missing_sidecars == ()
    assert records["loha"].preview_path.endswith("loha.png")
    assert records["loha"].missing_sidecars == ("json", "civitai_info")
    assert records["legacy"].missing_sidecars == ("preview", "json", "civitai_info")
    assert records["easyneg"].missing_sidecars == ("json", "civitai_info")


def test_scan_header_info(tree: dict[str, list[str]]) -> None:
    records = {r.name: r for r in LibraryScanner().scan(tree).records}
    ink = records["style/ink"]
    assert (ink.base_model, ink.header.base_model_source) == ("SDXL 1.0", "ss_base_model_version")
    assert ink.header.alias == "ink_style"
    assert ink.header.flavour == "LoRA"
    assert records["loha"].header.flavour == "LyCORIS"
    assert records["sdxl/juggernaut"].base_model == "SDXL 1.0"
    assert records["bad-hands"].header.base_family == "SD1"
    assert records["old"].base_model is None  # a pickle is never opened
    assert records["old"].header.readable


def test_hidden_folders_can_be_included(tree: dict[str, list[str]]) -> None:
    result = LibraryScanner(include_hidden=True).scan({"lora": tree["lora"][:1]})
    assert {r.name for r in result.records} >= {".trash/deleted", "._ink"}


def test_rescan_reads_no_header_and_a_changed_file_is_read_again(
    tree: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_path = str(tmp_path / "headers.json")
    LibraryScanner(HeaderInfoCache(cache_path)).scan(tree)
    reads: list[str] = []
    real = header_cache_module.read_header_info

    def counting(kind, path):
        reads.append(path)
        return real(kind, path)

    monkeypatch.setattr(header_cache_module, "read_header_info", counting)
    # A new process: new objects over the same cache file.
    result = LibraryScanner(HeaderInfoCache(cache_path)).scan(tree)
    assert reads == []
    assert next(r for r in result.records if r.name == "style/ink").base_model == "SDXL 1.0"

    ink = next(r for r in result.records if r.name == "style/ink")
    write_safetensors(Path(ink.path), {"x": [1]}, {"ss_base_model_version": "sd_v1"})
    os.utime(ink.path, ns=(ink.mtime_ns + 5_000_000_000, ink.mtime_ns + 5_000_000_000))
    result = LibraryScanner(HeaderInfoCache(cache_path)).scan(tree)
    assert reads == [ink.path]
    assert next(r for r in result.records if r.name == "style/ink").base_model == "SD 1.5"


def test_symlink_loop_is_cut(tmp_path: Path) -> None:
    lora = tmp_path / "Lora"
    touch(lora / "a.safetensors")
    try:
        os.symlink(lora, lora / "loop", target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks are not available here")
    result = LibraryScanner().scan({"lora": [str(lora)]})
    assert [r.name for r in result.records] == ["a"]


def test_a_broken_safetensors_file_is_listed_as_unreadable(tmp_path: Path) -> None:
    touch(tmp_path / "broken.safetensors", b"\xff" * 32)
    record = LibraryScanner().scan({"checkpoint": [str(tmp_path)]}).records[0]
    assert record.base_model is None and not record.header.readable


# -- kinds -------------------------------------------------------------------------------


def test_kinds_and_titles() -> None:
    assert parse_kind("LyCORIS") is ModelKind.LORA
    assert parse_kind("textual_inversion") is ModelKind.EMBEDDING
    with pytest.raises(ValueError):
        parse_kind("controlnet")
    assert not is_model_file(ModelKind.LORA, "x.safetensors.part")
    assert not is_model_file(ModelKind.LORA, "x.civitai.info")
    assert not is_model_file(ModelKind.CHECKPOINT, "x.vae.ckpt")
    assert is_model_file(ModelKind.VAE, "x.vae.ckpt")
    assert webui_hash_title(ModelKind.LORA, "sub/ink.safetensors") == "lora/ink"
    assert webui_hash_title(ModelKind.EMBEDDING, "e.pt") == "textual_inversion/e"
    assert webui_hash_title(ModelKind.HYPERNETWORK, "h.pt") == "hypernet/h"
    assert webui_hash_title(ModelKind.VAE, "v.pt") is None


# -- base model detection ----------------------------------------------------------------


def test_header_written_by_safetensors_library(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    path = tmp_path / "lora.safetensors"
    metadata = {"modelspec.architecture": "stable-diffusion-xl-v1-base/lora", "ss_sd_model_name": "ponyDiffusionV6XL.safetensors"}
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2, 3)}, str(path), metadata=metadata)
    header = read_safetensors_header(str(path))
    assert header.metadata == metadata
    assert header.shapes == {"lora_unet_x.lora_down.weight": [2, 3]}
    guess = guess_base_model(ModelKind.LORA, header)
    assert (guess.label, guess.family, guess.source) == ("Pony", "SDXL", "modelspec.architecture")
    assert guess.webui_sd_version == "SDXL"


@pytest.mark.parametrize(
    ("kind", "tensors", "metadata", "expected"),
    [
        (ModelKind.LORA, {"a": [1]}, {"ss_base_model_version": "sd_v1"}, ("SD 1.5", "SD1")),
        (ModelKind.LORA, {"a": [1]}, {"ss_base_model_version": "sd_v2_768_v"}, ("SD 2.1", "SD2")),
        (ModelKind.LORA, {"a": [1]}, {"ss_base_model_version": "flux1"}, ("Flux.1 D", "Flux")),
        (ModelKind.LORA, {"a": [1]}, {"modelspec.architecture": "flux-1-schnell/lora"}, ("Flux.1 S", "Flux")),
        (ModelKind.LORA, {"a": [1]}, {"ss_v2": "True", "ss_network_module": "networks.lora"}, ("SD 2.1", "SD2")),
        (ModelKind.LORA, {"a": [1]}, {"ss_v2": "False", "ss_network_module": "networks.lora"}, ("SD 1.5", "SD1")),
        (ModelKind.CHECKPOINT, {"cond_stage_model.transformer.text_model.final_layer_norm.weight": [768]}, None, ("SD 1.5", "SD1")),
        (ModelKind.CHECKPOINT, {"cond_stage_model.model.ln_final.weight": [1024]}, None, ("SD 2.1", "SD2")),
        (ModelKind.CHECKPOINT, {"conditioner.embedders.0.model.ln_final.weight": [1280]}, None, ("SDXL Refiner", "SDXL")),
        (ModelKind.CHECKPOINT, {"model.diffusion_model.double_blocks.0.img_mod.lin.weight": [4]}, None, ("Flux.1 D", "Flux")),
        (ModelKind.CHECKPOINT, {"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": [4]}, None, ("SD 3", "SD3")),
        (ModelKind.LORA, {"lora_unet_double_blocks_0_img_attn_proj.lora_down.weight": [4, 3072]}, None, ("Flux.1 D", "Flux")),
        (ModelKind.EMBEDDING, {"clip_g": [8, 1280], "clip_l": [8, 768]}, None, ("SDXL 1.0", "SDXL")),
        (ModelKind.EMBEDDING, {"emb_params": [4, 1024]}, None, ("SD 2.1", "SD2")),
    ],
)
def test_base_model_rules(tmp_path: Path, kind, tensors, metadata, expected) -> None:
    path = write_safetensors(tmp_path / "m.safetensors", tensors, metadata)
    guess = guess_base_model(kind, read_safetensors_header(str(path)))
    assert (guess.label, guess.family) == expected


@pytest.mark.parametrize(("table", "family"), [("sd15", "SD1"), ("sd2", "SD2"), ("sdxl", "SDXL")])
def test_lora_without_metadata_is_recognised_from_real_kohya_keys(tmp_path: Path, table: str, family: str) -> None:
    tensors = kohya_lora_tensors(table)
    path = write_safetensors(tmp_path / f"{table}.safetensors", tensors)
    guess = guess_base_model(ModelKind.LORA, read_safetensors_header(str(path)))
    assert guess is not None and guess.family == family and guess.source == "tensor names"


def test_unknown_and_invalid_headers(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "plain.safetensors", {"weight": [2]})
    assert guess_base_model(ModelKind.LORA, read_safetensors_header(str(path))) is None
    assert guess_base_model(ModelKind.VAE, read_safetensors_header(str(path))) is None
    bad = touch(tmp_path / "bad.safetensors", struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(HeaderError):
        read_safetensors_header(str(bad))
    short = touch(tmp_path / "short.safetensors", struct.pack("<Q", 100) + b"{}")
    with pytest.raises(HeaderError):
        read_safetensors_header(str(short))
