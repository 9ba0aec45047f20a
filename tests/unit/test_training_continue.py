"""Continuing from a LoRA file (kohya's ``network_weights``) and training with conv_dim on the tiny
CPU model: the file's weights are where training starts, a file that does not fit the network is
refused naming the first key that differs, and the metadata records the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from model_workbench.training.checkpoint import load_lora
from model_workbench.training.continue_from import load_network_weights
from model_workbench.training.network import LoRANetwork
from model_workbench.training.trainer import Trainer
from tests.support.tiny_diffusion import TinyDiffusionModel
from tests.support.tiny_training import tiny_config

UP_KEY = "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"
CONV_KEY = "lora_unet_down_blocks_0_resnets_0_conv1"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def _trained(tmp_path: Path, data: Path, name: str, **changes) -> Path:
    cfg = tiny_config(tmp_path / name, data, max_train_epochs=1, **changes)
    return Trainer(TinyDiffusionModel(), cfg).run().checkpoints[-1]


def test_conv_dim_lora_trains_and_saves_kohya_conv_keys(tmp_path: Path, data: Path) -> None:
    path = _trained(tmp_path, data, "conv", conv_dim=4, conv_alpha=2)
    lora = load_lora(path)
    assert lora.tensors[f"{CONV_KEY}.lora_down.weight"].shape == (4, 32, 3, 3)
    assert lora.tensors[f"{CONV_KEY}.lora_up.weight"].shape == (32, 4, 1, 1)
    assert float(lora.tensors[f"{CONV_KEY}.alpha"]) == 2.0
    assert torch.count_nonzero(lora.tensors[f"{CONV_KEY}.lora_up.weight"]) > 0  # it learned
    assert json.loads(lora.metadata["ss_network_args"]) == {"conv_dim": "4", "conv_alpha": "2"}


def test_continued_version_starts_from_the_given_weights(tmp_path: Path, data: Path) -> None:
    source = _trained(tmp_path, data, "source")
    fresh = _trained(tmp_path, data, "fresh")
    continued = _trained(tmp_path, data, "continued", network_weights=str(source))
    a, b, src = (load_lora(p) for p in (fresh, continued, source))
    assert not torch.equal(a.tensors[UP_KEY], b.tensors[UP_KEY])  # same seed, different start
    # With a learning rate too small to move anything, the first checkpoint is the source itself.
    still = load_lora(_trained(tmp_path, data, "still", network_weights=str(source), learning_rate=1e-20))
    assert still.tensors.keys() == src.tensors.keys()
    for key, value in src.tensors.items():
        torch.testing.assert_close(still.tensors[key], value)
    assert b.metadata["ss_network_weights"] == source.name
    assert b.metadata["ss_network_weights_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert "ss_network_weights" not in a.metadata


def test_loading_copies_every_tensor_into_the_network(tmp_path: Path, data: Path) -> None:
    source = _trained(tmp_path, data, "source", conv_dim=2)
    model = TinyDiffusionModel()
    net = LoRANetwork(model.root, "sd1", rank=8, alpha=8, conv_dim=2)
    info = load_network_weights(net, source)
    assert info.name == source.name and len(info.sha256) == 64
    file = load_lora(source).tensors
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, file[key].to(value.dtype))


def _network() -> LoRANetwork:
    return LoRANetwork(TinyDiffusionModel().root, "sd1", rank=8, alpha=8)


def _file(tmp_path: Path, change) -> Path:
    state = {k: v.clone() for k, v in _network().state_dict().items()}
    change(state)
    path = tmp_path / "other.safetensors"
    save_file(state, str(path))
    return path


def test_a_different_rank_is_refused_naming_the_first_key_and_both_shapes(tmp_path: Path) -> None:
    def smaller_rank(state):
        for key in list(state):
            if key.endswith("lora_down.weight"):
                state[key] = state[key][:4].contiguous()
            elif key.endswith("lora_up.weight"):
                state[key] = state[key][:, :4].contiguous()
    first = next(k for k in _network().state_dict() if k.endswith(".weight"))
    path = _file(tmp_path, smaller_rank)
    with pytest.raises(ValueError) as info:
        load_network_weights(_network(), path)
    text = str(info.value)
    assert first in text and "other.safetensors" in text
    assert "4" in text and "8" in text and text.count(first) == 1


def test_a_file_with_a_module_the_network_lacks_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, lambda s: s.update({"lora_unet_no_such_layer.lora_down.weight": torch.zeros(8, 4)}))
    with pytest.raises(ValueError, match="lora_unet_no_such_layer.lora_down.weight"):
        load_network_weights(_network(), path)


def test_a_file_missing_a_module_of_the_network_is_refused(tmp_path: Path) -> None:
    gone = "lora_te_text_model_encoder_layers_1_mlp_fc2"
    path = _file(tmp_path, lambda s: [s.pop(k) for k in list(s) if k.startswith(gone)])
    with pytest.raises(ValueError, match=f"it has no {gone}\\."):
        load_network_weights(_network(), path)


def test_a_different_alpha_is_refused(tmp_path: Path) -> None:
    key = "lora_unet_mid_block_attentions_0_proj_in.alpha"
    path = _file(tmp_path, lambda s: s.update({key: torch.tensor(3.0)}))
    with pytest.raises(ValueError, match=key):
        load_network_weights(_network(), path)


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope.safetensors"):
        load_network_weights(_network(), tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors"):
        load_network_weights(_network(), bad)


def test_a_mismatch_is_refused_before_any_step(tmp_path: Path, data: Path) -> None:
    source = _trained(tmp_path, data, "source", network_dim=4, network_alpha=4)
    cfg = tiny_config(tmp_path / "bad", data, max_train_epochs=1, network_weights=str(source))
    with pytest.raises(ValueError, match="lora_"):
        Trainer(TinyDiffusionModel(), cfg).run()
    assert not list((tmp_path / "bad" / "out").glob("*.safetensors"))


def test_a_resumed_continued_version_still_records_its_source(tmp_path: Path, data: Path) -> None:
    source = _trained(tmp_path, data, "source")
    cfg = tiny_config(tmp_path / "cont", data, max_train_epochs=2, network_weights=str(source))
    first = Trainer(TinyDiffusionModel(), cfg, stop=lambda: bool(list(Path(cfg.output_dir).glob("*.safetensors")))).run()
    assert first.interrupted
    second = Trainer(TinyDiffusionModel(), cfg).run(resume=True)
    assert load_lora(second.checkpoints[-1]).metadata["ss_network_weights"] == source.name
