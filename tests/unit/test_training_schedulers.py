"""Learning-rate curves: the values transformers/diffusers' get_scheduler gives, at chosen steps."""

from __future__ import annotations

import math

import pytest
import torch

from model_workbench.training.schedulers import POLYNOMIAL_LR_END, lr_lambda, make_scheduler, warmup_steps_for


def curve(name: str, total: int = 100, warmup: int = 10, **kw) -> list[float]:
    fn = lr_lambda(name, total, warmup, **kw)
    return [fn(s) for s in range(total + 2)]


def test_constant_and_warmup() -> None:
    assert set(curve("constant", warmup=0)) == {1.0}
    c = curve("constant_with_warmup")
    assert c[0] == 0.0 and c[5] == 0.5 and c[10] == 1.0 and c[100] == 1.0


def test_linear() -> None:
    c = curve("linear")
    assert c[5] == 0.5 and c[10] == 1.0 and c[55] == pytest.approx(0.5) and c[100] == 0.0 and c[101] == 0.0


def test_cosine_half_wave() -> None:
    c = curve("cosine")
    assert c[10] == 1.0 and c[55] == pytest.approx(0.5) and c[100] == pytest.approx(0.0)
    assert c[32] == pytest.approx(0.5 * (1 + math.cos(math.pi * 22 / 90)))


def test_cosine_with_restarts_cycles() -> None:
    c = curve("cosine_with_restarts", num_cycles=3)
    # three hard restarts over 90 post-warmup steps: back to 1.0 at steps 40 and 70
    assert c[10] == 1.0 and c[40] == pytest.approx(1.0) and c[70] == pytest.approx(1.0)
    assert c[25] == pytest.approx(0.5) and c[39] < 0.01 and c[100] == 0.0


def test_polynomial_power() -> None:
    c = curve("polynomial", power=2.0, lr_init=1e-3)
    p = (55 - 10) / 90
    assert c[55] == pytest.approx(((1e-3 - POLYNOMIAL_LR_END) * (1 - p) ** 2 + POLYNOMIAL_LR_END) / 1e-3)
    assert c[101] == pytest.approx(POLYNOMIAL_LR_END / 1e-3)
    with pytest.raises(ValueError):
        lr_lambda("polynomial", 10, lr_init=1e-8)


def test_warmup_ratio_and_lambda_lr_on_groups() -> None:
    assert warmup_steps_for(0.1, 200) == 20 and warmup_steps_for(5, 200) == 5
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{"params": [a], "lr": 1e-3}, {"params": [b], "lr": 1e-4}], lr=1e-3)
    sched = make_scheduler(opt, "linear", 10, warmup=0)
    for _ in range(5):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([5e-4, 5e-5])
    with pytest.raises(ValueError, match="Unknown scheduler"):
        lr_lambda("bogus", 10)
