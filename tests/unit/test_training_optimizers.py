"""kohya's optimizer_type: AdamW (default), AdamW8bit (only with bitsandbytes), Lion and SGDNesterov —
chosen in the config, recorded in the metadata and the kohya export, and fixed for a resume."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from model_workbench.training import messages
from model_workbench.training.checkpoint import load_lora
from model_workbench.training.config import TrainingConfig, kohya_training_toml
from model_workbench.training.optimizers import Lion
from model_workbench.training.sweep import plan_sweep
from model_workbench.training.trainer import Trainer
from tests.support.tiny_diffusion import TinyDiffusionModel
from tests.support.tiny_training import tiny_config

HAS_BNB = importlib.util.find_spec("bitsandbytes") is not None
RUNNABLE = ["AdamW", "Lion", "SGDNesterov"] + (["AdamW8bit"] if HAS_BNB else [])
SS_OPTIMIZER = {
    "AdamW": "torch.optim.adamw.AdamW",
    "AdamW8bit": "bitsandbytes.optim.adamw.AdamW8bit",
    "Lion": "lion_pytorch.lion_pytorch.Lion",
    "SGDNesterov": "torch.optim.sgd.SGD(momentum=0.9)",
}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


def test_lion_step_matches_the_published_update_by_hand():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    p.grad = torch.tensor([0.3, -0.4])
    opt.step()
    # m = 0: c = 0.1·g → sign (+1, −1); p − 0.1·(sign + 0.5·p) = (1 − 0.1·1.5, −2 − 0.1·(−1 − 1))
    assert torch.allclose(p.detach(), torch.tensor([0.85, -1.8]))
    assert torch.allclose(opt.state[p]["exp_avg"], torch.tensor([0.003, -0.004]))
    p.grad = torch.tensor([-0.001, 0.5])
    opt.step()
    # c = 0.9·m + 0.1·g = (0.0027 − 0.0001, −0.0036 + 0.05) → sign (+1, +1)
    assert torch.allclose(p.detach(), torch.tensor([0.85 - 0.1 * (1 + 0.425), -1.8 - 0.1 * (1 - 0.9)]))
    assert torch.allclose(opt.state[p]["exp_avg"], torch.tensor([0.99 * 0.003 - 0.00001, 0.99 * -0.004 + 0.005]))


def test_lion_defaults_are_the_papers():
    opt = Lion([torch.nn.Parameter(torch.zeros(2))])
    assert opt.defaults["betas"] == (0.9, 0.99) and opt.defaults["weight_decay"] == 0


def test_names_are_read_in_any_case_and_stored_as_kohya_spells_them():
    assert TrainingConfig().optimizer_type == "AdamW"
    assert TrainingConfig(optimizer_type="lion").optimizer_type == "Lion"
    assert TrainingConfig(optimizer_type="sgdnesterov").optimizer_type == "SGDNesterov"
    assert TrainingConfig.from_dict({"optimizer_type": "ADAMW"}).optimizer_type == "AdamW"
    with pytest.raises(ValueError, match="optimizer"):
        TrainingConfig(optimizer_type="Adafactorish").validate()


@pytest.mark.skipif(HAS_BNB, reason="bitsandbytes is installed here")
def test_adamw8bit_without_bitsandbytes_is_refused_with_a_sentence():
    with pytest.raises(ValueError) as info:
        TrainingConfig(optimizer_type="adamw8bit").validate()
    assert messages.OPTIMIZER_NEEDS_BITSANDBYTES in str(info.value)
    assert "bitsandbytes" in messages.OPTIMIZER_NEEDS_BITSANDBYTES and "Lion" in messages.OPTIMIZER_NEEDS_BITSANDBYTES


@pytest.mark.skipif(not HAS_BNB, reason="bitsandbytes is not installed")
def test_adamw8bit_with_bitsandbytes_is_accepted():
    TrainingConfig(optimizer_type="AdamW8bit").validate()


@pytest.mark.parametrize("name", RUNNABLE)
def test_each_optimizer_trains_two_steps_and_says_so_in_the_metadata(tmp_path: Path, data: Path, name: str) -> None:
    model = TinyDiffusionModel()
    cfg = tiny_config(tmp_path, data, max_train_epochs=2, optimizer_type=name, learning_rate=1e-3)
    result = Trainer(model, cfg).run()
    assert result.steps == 2 and all(torch.isfinite(torch.tensor(result.losses)))
    lora = load_lora(result.checkpoints[-1])
    ups = [v for k, v in lora.tensors.items() if k.endswith("lora_up.weight")]
    assert any(bool(v.abs().sum() > 0) for v in ups)  # lora_up starts at zero: the weights moved
    assert lora.metadata["ss_optimizer"] == SS_OPTIMIZER[name]


@pytest.mark.parametrize("name", list(SS_OPTIMIZER))
def test_kohya_export_names_the_optimizer(name: str) -> None:
    toml = kohya_training_toml(TrainingConfig(optimizer_type=name.lower()))
    assert f'optimizer_type = "{name}"' in toml.splitlines()


def test_resume_with_another_optimizer_is_refused(tmp_path: Path, data: Path) -> None:
    Trainer(TinyDiffusionModel(), tiny_config(tmp_path, data, max_train_epochs=2, optimizer_type="Lion")).run()
    other = Trainer(TinyDiffusionModel(), tiny_config(tmp_path, data, max_train_epochs=2, optimizer_type="AdamW"))
    with pytest.raises(ValueError, match="optimizer_type"):
        other.run(resume=True)


def test_a_sweep_over_optimizers_makes_one_version_each():
    plan = plan_sweep("v1", {"optimizer_type": "AdamW, lion", "learning_rate": 1e-4})
    assert [run.version for run in plan.runs] == ["v1-optAdamW", "v1-optLion"]
    assert [run.settings["optimizer_type"] for run in plan.runs] == ["AdamW", "Lion"]
