"""Learning-rate schedules with the same curves as transformers/diffusers' ``get_scheduler``
(what kohya sd-scripts uses), built on ``torch.optim.lr_scheduler.LambdaLR``.

All schedules count optimizer steps. Each returns the factor applied to every param group's
base learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

MSG_UNKNOWN = "Unknown scheduler '{name}'; choose one of: {names}."
MSG_POLYNOMIAL_LR = "The learning rate ({lr}) must be larger than {lr_end} for the polynomial scheduler."

SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial")
POLYNOMIAL_LR_END = 1e-7  # transformers' default lr_end


def warmup_steps_for(warmup: float, total_steps: int) -> int:
    """kohya's ``lr_warmup_steps``: an int, or a float below 1 meaning a ratio of the total."""
    if 0 < warmup < 1:
        return int(warmup * total_steps)
    return int(warmup)


def lr_lambda(
    name: str, total_steps: int, warmup_steps: int = 0, num_cycles: int = 1, power: float = 1.0, lr_init: float = 1.0
) -> Callable[[int], float]:
    """The factor-of-step function for ``name``."""
    if name not in SCHEDULERS:
        raise ValueError(MSG_UNKNOWN.format(name=name, names=", ".join(SCHEDULERS)))
    w, t = int(warmup_steps), int(total_steps)

    def warm(step: int) -> float:
        return float(step) / float(max(1, w))

    def progress(step: int) -> float:
        return float(step - w) / float(max(1, t - w))

    if name == "constant":
        return lambda step: 1.0
    if name == "constant_with_warmup":
        return lambda step: warm(step) if step < w else 1.0
    if name == "linear":
        return lambda step: warm(step) if step < w else max(0.0, float(t - step) / float(max(1, t - w)))
    if name == "cosine":
        # transformers' default num_cycles=0.5: one half cosine from 1 to 0
        return lambda step: warm(step) if step < w else max(0.0, 0.5 * (1.0 + math.cos(math.pi * 2.0 * 0.5 * progress(step))))
    if name == "cosine_with_restarts":
        def restarts(step: int) -> float:
            if step < w:
                return warm(step)
            p = progress(step)
            if p >= 1.0:
                return 0.0
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * p) % 1.0))))

        return restarts
    # polynomial
    lr_end = POLYNOMIAL_LR_END
    if not lr_init > lr_end:
        raise ValueError(MSG_POLYNOMIAL_LR.format(lr=lr_init, lr_end=lr_end))

    def poly(step: int) -> float:
        if step < w:
            return warm(step)
        if step > t:
            return lr_end / lr_init
        decay = (lr_init - lr_end) * (1 - float(step - w) / float(max(1, t - w))) ** power + lr_end
        return decay / lr_init

    return poly


def make_scheduler(
    optimizer: Optimizer, name: str, total_steps: int, warmup: float = 0, num_cycles: int = 1, power: float = 1.0
) -> LambdaLR:
    """A LambdaLR for ``optimizer``; ``optimizer.defaults['lr']`` is the polynomial's initial lr."""
    fn = lr_lambda(name, total_steps, warmup_steps_for(warmup, total_steps), num_cycles, power,
                   float(optimizer.defaults.get("lr", 1.0)))
    return LambdaLR(optimizer, fn)
