"""The optimisers a training may use, by kohya sd-scripts' ``optimizer_type`` names.

``AdamW`` (the default), ``AdamW8bit`` (bitsandbytes, only when it is installed: never a hard
dependency), ``Lion`` (our own implementation of the published update, the one kohya takes from
lion-pytorch) and ``SGDNesterov``. Each also has the ``ss_optimizer`` string kohya writes into the
LoRA's metadata (``<module>.<class>`` plus the arguments kohya adds, as train_util.get_optimizer does).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

OPTIMIZERS = ("AdamW", "AdamW8bit", "Lion", "SGDNesterov")
DEFAULT_OPTIMIZER = "AdamW"

# What kohya writes as ss_optimizer; its SGDNesterov passes nesterov=True outside the listed arguments.
_METADATA_NAMES = {
    "AdamW": "torch.optim.adamw.AdamW",
    "AdamW8bit": "bitsandbytes.optim.adamw.AdamW8bit",
    "Lion": "lion_pytorch.lion_pytorch.Lion",
    "SGDNesterov": "torch.optim.sgd.SGD(momentum=0.9)",
}


def canonical_optimizer(name: str) -> str:
    """kohya's spelling of ``name`` (``adamw8bit`` → ``AdamW8bit``); unknown names come back unchanged."""
    by_lower = {known.lower(): known for known in OPTIMIZERS}
    return by_lower.get(str(name).strip().lower(), str(name).strip())


def bitsandbytes_available() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def metadata_name(name: str) -> str:
    return _METADATA_NAMES[canonical_optimizer(name)]


class Lion(Optimizer):
    """Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), per parameter:

    c = β1·m + (1−β1)·g;  p ← p − lr·(sign(c) + wd·p);  m ← β2·m + (1−β2)·g

    The update has the same size for every element, so Lion wants a learning rate 3–10× smaller than AdamW's.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "exp_avg" not in state:
                    state["exp_avg"] = torch.zeros_like(p)
                m, g = state["exp_avg"], p.grad
                direction = (m * beta1 + g * (1 - beta1)).sign_()
                if wd:  # decoupled weight decay, on the weights before this step's update
                    p.mul_(1 - lr * wd)
                p.add_(direction, alpha=-lr)
                m.mul_(beta2).add_(g, alpha=1 - beta2)
        return loss


def make_optimizer(name: str, groups: list[dict[str, Any]], lr: float) -> Optimizer:
    """The optimiser ``name`` over ``groups`` (each with its own lr); the config was validated first."""
    name = canonical_optimizer(name)
    if name == "AdamW8bit":
        import bitsandbytes as bnb  # optional: validation refuses AdamW8bit when it is missing

        return bnb.optim.AdamW8bit(groups, lr=lr)
    if name == "Lion":
        return Lion(groups, lr=lr)
    if name == "SGDNesterov":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=lr)
