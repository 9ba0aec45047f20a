"""Sweeps: a training setting given several values makes one version per combination.

``learning_rate: "1e-4, 5e-5"`` and ``network_dim: [4, 8]`` make four versions, named from the base
version and the values that vary (``v2-lr5e-5-dim8``), each trained with its own config. Which settings
may take several values is said here, per setting (:data:`SWEEPABLE`): numbers and choices. Free text
never splits (a comma in a prompt or a comment is just a comma), nor do switches or paths. The
resolution's own comma means width,height, so its values are separated by semicolons.

Pure: no torch, no gradio; the queue (``training.queue``) creates and runs the planned versions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from model_workbench.api_body import check_field

from . import projects
from .config import TrainingConfig
from .optimizers import canonical_optimizer

MAX_RUNS = 64  # versions one sweep may make

MSG_NOT_A_NUMBER = "{key}: '{value}' is not a number."
MSG_NOT_WHOLE = "{key}: '{value}' is not a whole number."
MSG_TOO_MANY = ("These settings would make {count} versions; at most {limit} can be trained in one sweep. "
                "Give fewer values.")
MSG_PLAN = "{count} versions will be trained: {names}."
MSG_NO_SWEEP = ("No setting has several values, so there is nothing to sweep. Separate the values of a number "
                "or a choice with commas, for example learning_rate 1e-4, 5e-5.")


class SweepError(ValueError):
    """Settings that cannot be swept as given; the message says which and why."""


@dataclass(frozen=True)
class Sweepable:
    abbreviation: str  # in version names: v2-lr5e-5-dim8
    separator: str = ","


# The settings that take several values, with their short names (kohya's keys). Keys the engine does not
# have (yet) are ignored; everything else (prompts, comments, paths, switches) never splits.
SWEEPABLE: dict[str, Sweepable] = {
    "learning_rate": Sweepable("lr"),
    "unet_lr": Sweepable("unetlr"),
    "text_encoder_lr": Sweepable("telr"),
    "network_dim": Sweepable("dim"),
    "network_alpha": Sweepable("alpha"),
    "conv_dim": Sweepable("cdim"),
    "conv_alpha": Sweepable("calpha"),
    "optimizer_type": Sweepable("opt"),
    "max_train_epochs": Sweepable("ep"),
    "max_train_steps": Sweepable("steps"),
    "train_batch_size": Sweepable("bs"),
    "gradient_accumulation_steps": Sweepable("ga"),
    "resolution": Sweepable("res", ";"),
    "lr_scheduler": Sweepable("sched"),
    "lr_warmup_steps": Sweepable("warmup"),
    "lr_scheduler_num_cycles": Sweepable("cycles"),
    "network_dropout": Sweepable("drop"),
    "noise_offset": Sweepable("noise"),
    "min_snr_gamma": Sweepable("snr"),
    "clip_skip": Sweepable("clip"),
    "seed": Sweepable("seed"),
}


# Choices read in any case, as the config stores them, so `adamw, Lion` names versions -optAdamW / -optLion.
_CANONICAL_CHOICES = {"optimizer_type": canonical_optimizer}


def is_sweepable(key: str) -> bool:
    return key in SWEEPABLE and key in TrainingConfig.__dataclass_fields__


@dataclass(frozen=True)
class SweepRun:
    version: str
    settings: dict[str, Any]  # the form's fixed settings with this combination's values


@dataclass
class SweepPlan:
    base: str
    varying: list[str] = field(default_factory=list)
    runs: list[SweepRun] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.runs)

    @property
    def is_sweep(self) -> bool:
        return bool(self.varying)

    def summary(self) -> str:
        return MSG_PLAN.format(count=self.count, names=", ".join(run.version for run in self.runs))


def _parse_item(key: str, text: str) -> Any:
    """One value typed in a form field, as the setting's type (the config checks its range later)."""
    kind = TrainingConfig.field_schema()[key].kind
    if kind == "int":
        try:
            number = float(text)
        except ValueError:
            raise SweepError(MSG_NOT_A_NUMBER.format(key=key, value=text)) from None
        if not math.isfinite(number) or not number.is_integer():
            raise SweepError(MSG_NOT_WHOLE.format(key=key, value=text))
        return int(number)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise SweepError(MSG_NOT_A_NUMBER.format(key=key, value=text)) from None
        if not math.isfinite(number):
            raise SweepError(MSG_NOT_A_NUMBER.format(key=key, value=text))
        return number
    return _CANONICAL_CHOICES.get(key, str)(text)  # choices and the resolution are text


def values_of(key: str, raw: Any) -> list[Any]:
    """A sweepable setting's values: a JSON list, or text with the setting's separator; repeats once."""
    if isinstance(raw, str):
        items = [_parse_item(key, part.strip()) for part in raw.split(SWEEPABLE[key].separator) if part.strip()]
    elif isinstance(raw, (list, tuple)):
        schema = TrainingConfig.field_schema()[key]
        items = [_parse_item(key, v.strip()) if isinstance(v, str) else check_field(f"config.{key}", v, schema)
                 for v in raw]
    else:
        items = [raw]
    unique: list[Any] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique


def split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(settings with one value, sweepable settings with several values), in the given order."""
    fixed: dict[str, Any] = {}
    varying: dict[str, list[Any]] = {}
    for key, raw in settings.items():
        if not is_sweepable(key) or raw is None:
            fixed[key] = raw
            continue
        values = values_of(key, raw)
        if len(values) > 1:
            varying[key] = values
        elif values:
            fixed[key] = values[0]
    return fixed, varying


def format_value(value: Any) -> str:
    """A value as it reads in a version name: 1e-4, 0.05, 16, 768x512."""
    if value is None:
        return "none"
    if isinstance(value, float):
        plain = f"{value:g}"
        mantissa, _, exponent = f"{value:e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        short = f"{mantissa}e{int(exponent)}"
        return short if len(short) < len(plain) else plain
    return str(value).replace(",", "x").replace(" ", "")


def plan_sweep(base: str, settings: dict[str, Any], limit: int = MAX_RUNS) -> SweepPlan:
    """The versions ``settings`` make from ``base``: one per combination of the varying values."""
    fixed, varying = split_settings(settings)
    order = list(SWEEPABLE)  # names read the same whatever order the settings came in: lr before dim
    varying = dict(sorted(varying.items(), key=lambda kv: order.index(kv[0])))
    count = math.prod(len(v) for v in varying.values())
    if count > limit:
        raise SweepError(MSG_TOO_MANY.format(count=count, limit=limit))
    base = projects.validate_name(base, "version")
    plan = SweepPlan(base=base, varying=list(varying))
    for combination in itertools.product(*varying.values()):
        chosen = dict(zip(varying, combination, strict=True))
        name = base + "".join(f"-{SWEEPABLE[k].abbreviation}{format_value(v)}" for k, v in chosen.items())
        plan.runs.append(SweepRun(projects.validate_name(name, "version"), {**fixed, **chosen}))
    return plan
