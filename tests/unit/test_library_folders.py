"""Civitai type → WebUI folder, with the host's overrides and safe subfolders."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_workbench.library.folders import folder_key, model_folder, normalize_key, safe_subfolder

ROOT = Path("/webui")


@pytest.mark.parametrize("model_type, expected", [
    ("Checkpoint", "models/Stable-diffusion"),
    ("TextualInversion", "embeddings"),
    ("LORA", "models/Lora"),
    ("LoCon", "models/Lora"),
    ("DoRA", "models/Lora"),
    ("Hypernetwork", "models/hypernetworks"),
    ("VAE", "models/VAE"),
    ("Controlnet", "models/ControlNet"),
    ("Upscaler", "models/ESRGAN"),
    ("MotionModule", "models/AnimateDiff"),
    ("Poses", "models/Poses"),
    ("Wildcards", "models/wildcards"),
    ("Detection", "models/adetailer"),
    ("AestheticGradient", "models/Other"),
    ("Workflows", "models/Other"),
    ("Other", "models/Other"),
    ("SomethingNew2027", "models/Other"),
    ("", "models/Other"),
])
def test_default_folders(model_type, expected):
    assert model_folder(model_type, ROOT) == ROOT / expected


def test_overrides_from_webui_flags():
    overrides = {"--ckpt-dir": "/data/ckpt", "lora_dir": "/data/lora", "embeddings-dir": "/data/emb",
                 "hypernetwork_dir": "/data/hn", "vae_dir": "/data/vae", "esrgan_models_path": "/data/esrgan"}
    assert model_folder("Checkpoint", ROOT, overrides) == Path("/data/ckpt")
    assert model_folder("LORA", ROOT, overrides) == Path("/data/lora")
    assert model_folder("DoRA", ROOT, overrides) == Path("/data/lora")
    assert model_folder("TextualInversion", ROOT, overrides) == Path("/data/emb")
    assert model_folder("Hypernetwork", ROOT, overrides) == Path("/data/hn")
    assert model_folder("VAE", ROOT, overrides) == Path("/data/vae")
    assert model_folder("Upscaler", ROOT, overrides) == Path("/data/esrgan")
    assert model_folder("Controlnet", ROOT, overrides) == ROOT / "models/ControlNet"


def test_locon_goes_to_lycoris_only_with_such_a_folder():
    assert model_folder("LoCon", ROOT, {"lora": "/l"}) == Path("/l")
    assert model_folder("LoCon", ROOT, {"--lyco-dir": "/ly", "lora": "/l"}) == Path("/ly")
    assert model_folder("LORA", ROOT, {"lyco_dir": "/ly"}) == ROOT / "models/Lora"
    assert model_folder("LoCon", ROOT, {"lyco_dir": ""}) == ROOT / "models/Lora"  # an empty flag is no folder


def test_bundled_vae_file_goes_to_vae():
    assert folder_key("Checkpoint", "VAE") == "vae"
    assert model_folder("Checkpoint", ROOT, file_type="Model") == ROOT / "models/Stable-diffusion"


def test_subfolders_are_sanitised():
    assert model_folder("LORA", ROOT, subfolder="styles/anime") == ROOT / "models/Lora/styles/anime"
    assert model_folder("LORA", ROOT, subfolder="../../etc") == ROOT / "models/Lora/etc"
    assert model_folder("LORA", ROOT, subfolder="/abs\\win:dows") == ROOT / "models/Lora/abs/win_dows"
    assert model_folder("LORA", ROOT, subfolder="CON/キャラ") == ROOT / "models/Lora/_CON/キャラ"
    assert safe_subfolder("  ") is None and safe_subfolder("..") is None and safe_subfolder(None) is None


@pytest.mark.parametrize("key, expected", [
    ("--lora-dir", "lora"), ("ckpt_dir", "checkpoint"), ("LORA", "lora"), ("lyco_dir", "lycoris"),
    ("embeddings_dir", "embeddings"), ("hypernetwork_dir", "hypernetworks"), ("TextualInversion", "embeddings"),
    ("esrgan_models_path", "esrgan"), ("controlnet_dir", "controlnet"),
])
def test_normalize_key(key, expected):
    assert normalize_key(key) == expected


def test_a_typed_subfolder_that_leaves_the_model_folder_is_refused():
    from model_workbench.library.folders import check_subfolder

    assert check_subfolder("styles/anime") == Path("styles/anime")
    assert check_subfolder("  ") is None and check_subfolder("./styles/") == Path("styles")
    for bad, words in (("../escape", "leaves the model folder"), ("styles/../../x", "leaves the model folder"),
                       ("/tmp/abs-escape", "absolute path"), ("\\\\server\\share", "absolute path"),
                       ("C:\\models", "absolute path"), ("a<b", "not allowed in folder names")):
        with pytest.raises(ValueError, match=words):
            check_subfolder(bad)
