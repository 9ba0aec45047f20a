"""The SDXL path end to end on a tiny SGM-named model: te1/te2 keys (OpenCLIP q/k/v/out through
the MultiheadAttention patch), size conditioning per sample, WebUI-style apply reproducing the
trained forward, and a model left bit-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model_workbench.training.apply import applied_lora
from model_workbench.training.checkpoint import load_lora
from model_workbench.training.network import LoRANetwork
from model_workbench.training.trainer import Trainer
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_sdxl import TinySDXLModel
from tests.support.tiny_training import assert_same, snapshot, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def test_sdxl_training_keys_sizes_and_apply(tmp_path: Path) -> None:
    data = make_concept_folder(tmp_path / "data", n=4, sizes=[(128, 128), (192, 64), (64, 192), (128, 128)])
    model = TinySDXLModel()
    before = snapshot(model.root)
    cfg = tiny_config(tmp_path, data, resolution="128", enable_bucket=True, min_bucket_reso=64, max_bucket_reso=256,
                      train_batch_size=1, max_train_epochs=2, clip_skip=2)
    result = Trainer(model, cfg).run()
    assert result.steps == 8
    assert_same(before, snapshot(model.root))

    loaded = load_lora(result.checkpoints[-1])
    keys = loaded.module_keys()
    assert sum(k.startswith("lora_te1_") for k in keys) == 12
    assert sum(k.startswith("lora_te2_") for k in keys) == 12
    assert "lora_te2_text_model_encoder_layers_1_self_attn_v_proj" in keys
    assert "lora_unet_output_blocks_2_1_transformer_blocks_0_attn2_to_k" in keys
    assert loaded.metadata["ss_base_model_version"] == "sdxl_base_v1-0"
    assert loaded.metadata["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    # the te2 LoRAs really trained (their up weights left zero init)
    assert loaded.tensors["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight"].abs().sum() > 0

    sizes = [s for s in model.received_sizes if s]
    targets = {tuple(s[0].target_size) for s in sizes}
    assert targets == {(128, 128), (64, 192), (192, 64)}  # (height, width) of each bucket
    assert all(s[0].original_size in {(128, 128), (64, 192), (192, 64)} for s in sizes)

    # the trained network vs the file merged the WebUI way, on the full conditioning path
    net = LoRANetwork(model.root, "sdxl", rank=8, alpha=8)
    net.load_state_dict({k: v for k, v in loaded.tensors.items()})
    net.eval()
    x, t = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([250])
    with torch.no_grad():
        with net:
            expected = model.predict(x, t, model.encode_captions(["tinycat, square"], 2))
        with applied_lora(model.root, "sdxl", str(result.checkpoints[-1])) as unmatched:
            assert unmatched == []
            got = model.predict(x, t, model.encode_captions(["tinycat, square"], 2))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert_same(before, snapshot(model.root))


def test_sdxl_exception_leaves_model_and_multihead_attention_untouched(tmp_path: Path) -> None:
    data = make_concept_folder(tmp_path / "data", n=2)
    model = TinySDXLModel()
    before = snapshot(model.root)

    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure in the text encoder")

    model.encode_captions = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="simulated"):
        Trainer(model, tiny_config(tmp_path, data, train_batch_size=2)).run()
    assert_same(before, snapshot(model.root))
