"""Helpers shared by the training tests: a small training config, and a snapshot of a model's
weights, parameter identities, requires_grad flags, train modes, hooks and forward patches, to
prove a model was left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from model_workbench.training.config import TrainingConfig


def tiny_config(tmp_path: Path, data: Path, **changes) -> TrainingConfig:
    values = dict(
        train_data_dir=str(data), output_dir=str(tmp_path / "out"), output_name="tiny", resolution="64",
        network_dim=8, network_alpha=8, learning_rate=1e-2, max_train_epochs=3, train_batch_size=4, seed=1,
        save_precision="float",
    )
    values.update(changes)
    return TrainingConfig(**values)


def snapshot(root: nn.Module) -> dict:
    return {
        "state": {k: v.clone() for k, v in root.state_dict().items()},
        "ids": {k: id(p) for k, p in root.named_parameters()},
        "grad": {k: p.requires_grad for k, p in root.named_parameters()},
        "modes": {k: m.training for k, m in root.named_modules()},
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in root.modules()),
        "forwards": sum("forward" in m.__dict__ for m in root.modules()),
    }


def assert_same(a: dict, b: dict) -> None:
    assert a["ids"] == b["ids"] and a["grad"] == b["grad"] and a["modes"] == b["modes"]
    assert a["hooks"] == b["hooks"] and a["forwards"] == b["forwards"]
    assert a["state"].keys() == b["state"].keys()
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k


class OpenCLIPBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, 2)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(dim, dim * 2))
        self.mlp.add_module("c_proj", nn.Linear(dim * 2, dim))


def openclip_root(dim: int = 16, blocks: int = 3) -> nn.Module:
    """A WebUI SD2-style text encoder: cond_stage_model.wrapped.model.transformer.resblocks.N."""
    root = nn.Module()
    root.cond_stage_model = nn.Module()
    root.cond_stage_model.wrapped = nn.Module()
    root.cond_stage_model.wrapped.model = nn.Module()
    root.cond_stage_model.wrapped.model.transformer = nn.Module()
    root.cond_stage_model.wrapped.model.transformer.resblocks = nn.ModuleList([OpenCLIPBlock(dim) for _ in range(blocks)])
    return root
