"""Start a new training from an existing LoRA file: kohya's ``network_weights``.

The file's tensors are copied into the freshly created network before the first step. Unlike
sd-scripts (which loads non-strictly and keeps the config's alpha while saving the file's), the file
must fit exactly: the same modules, the same shapes and the same alphas. The first key that differs
is named in the refusal, so the user can set the rank, conv_dim or trained parts to the file's.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model_workbench.library.hashing import sha256_file

from . import messages
from .checkpoint import load_lora


@dataclass(frozen=True)
class NetworkWeightsInfo:
    """What the metadata records about the file a version started from."""

    name: str
    sha256: str


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a LoRA file (safetensors, or a PyTorch .pt/.ckpt as older kohya LoRAs are)."""
    try:
        if path.suffix.lower() == ".safetensors":
            return load_lora(path).tensors
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # any unreadable or foreign file gets the same sentence
        raise ValueError(messages.NETWORK_WEIGHTS_UNREADABLE.format(name=path.name)) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(messages.NETWORK_WEIGHTS_UNREADABLE.format(name=path.name))
    return state


def _shape(tensor: torch.Tensor) -> str:
    return "[" + ", ".join(str(d) for d in tensor.shape) + "]"


def check_fit(network_state: dict[str, torch.Tensor], file_state: dict[str, torch.Tensor], name: str) -> None:
    """Raise ValueError naming the first key where the file and the network differ."""
    for key, ours in network_state.items():
        theirs = file_state.get(key)
        if theirs is None and key.endswith(".alpha"):
            # Old kohya files have no alpha: it then equals the rank (the lora_down's rows).
            down = file_state.get(key[: -len("alpha")] + "lora_down.weight")
            theirs = torch.tensor(float(down.shape[0])) if down is not None else None
        if theirs is None:
            raise ValueError(messages.NETWORK_WEIGHTS_MISSING.format(name=name, key=key))
        if key.endswith(".alpha"):
            file_alpha, alpha = float(theirs.float()), float(ours.float())
            if not math.isclose(file_alpha, alpha, rel_tol=1e-3):
                raise ValueError(messages.NETWORK_WEIGHTS_ALPHA.format(
                    name=name, key=key, file_alpha=f"{file_alpha:g}", alpha=f"{alpha:g}"))
        elif theirs.shape != ours.shape:
            raise ValueError(messages.NETWORK_WEIGHTS_SHAPE.format(
                name=name, key=key, file_shape=_shape(theirs), shape=_shape(ours)))
    for key in file_state:
        if key not in network_state:
            raise ValueError(messages.NETWORK_WEIGHTS_EXTRA.format(name=name, key=key))


def load_network_weights(network: nn.Module, path: str | os.PathLike) -> NetworkWeightsInfo:
    """Copy the LoRA file at ``path`` into ``network`` (refused, unchanged, when it does not fit)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(messages.NETWORK_WEIGHTS_UNREADABLE.format(name=path.name))
    file_state = read_weights(path)
    ours = network.state_dict()
    check_fit(ours, file_state, path.name)
    with torch.no_grad():
        for key, value in ours.items():
            if key in file_state:
                value.copy_(file_state[key].to(device=value.device, dtype=value.dtype))
    return NetworkWeightsInfo(path.name, sha256_file(str(path)))


LORA_SUFFIXES = (".safetensors", ".pt", ".ckpt")


def lora_files(folders: list[Path]) -> list[Path]:
    """The LoRA files under ``folders`` (sub-folders too), folder by folder, sorted: what the form
    offers to continue from."""
    found: list[Path] = []
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        found += sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in LORA_SUFFIXES)
    return found
