"""Grid plans: which cells to render, where each goes, and in what order.

Axes follow the issue and WebUI's X/Y/Z plot: X (columns) = LoRA weights, Y (rows) =
checkpoints (epochs), Z (one sub-grid each) = prompts when several are given. Every cell
shares one concrete seed, so the only thing that changes along an axis is that axis.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import messages
from .requests import CellRequest, LoraRef, check_lora_name, format_weight

# WebUI's largest seed (processing.get_fixed_seed draws from this range too).
_MAX_SEED = 2**32 - 1
MAX_BATCH_SIDE = 4
# The baseline column's label: the same prompt and seed with no LoRA at all (what the LoRA changes).
BASELINE_LABEL = "no LoRA"


@dataclass(frozen=True)
class CheckpointRef:
    """One trained file to preview: its row label, its path and the unique name WebUI loads it under."""

    label: str
    path: str
    lora_name: str = ""
    epoch: int | None = None
    # Besides LoRA files: a hypernetwork or embedding step snapshot ("hypernet" / "embedding", as
    # ExtraNetwork.kind). ``word`` is an embedding's trigger word (the name its cells use in the prompt;
    # ``lora_name`` stays unique per row); ``step`` the step it was saved at.
    kind: str = "lora"
    word: str = ""
    step: int | None = None

    @property
    def name(self) -> str:
        # The file stem is unique per project/version/epoch by the naming rule of projects.py.
        return self.lora_name or Path(self.path).stem


def unique_lora_name(path: str | Path) -> str:
    """A LoRA name for this file as it is now: its stem plus 8 hex digits of (path, size, mtime).

    WebUI caches text conditioning keyed on the network *name* (``persistent_cond_cache``), so a
    retrained file loaded under its old name could reuse the old conditioning; a name that
    changes whenever the file does cannot.
    """
    file = Path(path)
    stat = file.stat()
    key = f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    return f"{file.stem}-{hashlib.sha1(key).hexdigest()[:8]}"


def step_checkpoint(path: str | Path, step: int, kind: str, word: str = "") -> CheckpointRef:
    """A hypernetwork or embedding snapshot labelled ``step N``, under a name unique to the file."""
    return CheckpointRef(label=f"step {step}", path=str(path), lora_name=unique_lora_name(path), kind=kind,
                         word=word, step=step)


@dataclass(frozen=True)
class ValueAxis:
    """What the columns of a grid are: their title, the baseline column's label and prompt, each value's label.

    LoRA and hypernetwork grids have a column per weight (strength); an embedding grid has one value (the
    embedding applied) and its baseline column is the prompt with the trigger word taken out.
    """

    title: str = "LoRA weight"
    baseline_label: str = BASELINE_LABEL
    value_label: Callable[[float], str] = field(default=lambda w: weight_label(w))
    baseline_prompt: Callable[[str], str] | None = None  # None: the same prompt


def epoch_checkpoint(path: str | Path, epoch: int | None, lora_name: str = "") -> CheckpointRef:
    """A checkpoint labelled ``epoch N`` (or by its file name when the epoch is unknown)."""
    label = f"epoch {epoch}" if epoch is not None else Path(path).stem
    return CheckpointRef(label=label, path=str(path), lora_name=lora_name, epoch=epoch)


@dataclass(frozen=True)
class PlannedCell:
    """A cell of the grid: its position (x, y, z), its labels and the request that renders it."""

    index: int  # position in render order
    x: int
    y: int
    z: int
    x_label: str
    y_label: str
    z_label: str
    checkpoint: CheckpointRef
    weight: float
    prompt: str
    request: CellRequest

    @property
    def baseline(self) -> bool:
        """A cell of the baseline column: rendered with no LoRA."""
        return self.request.lora is None

    @property
    def label(self) -> str:
        parts = [self.y_label, self.x_label]
        if self.z_label:
            parts.append(self.z_label)
        return ", ".join(parts)


@dataclass
class GridPlan:
    """A whole grid: axis labels, the shared seed and the cells in render order."""

    x_labels: list[str]
    y_labels: list[str]
    z_labels: list[str]
    seed: int
    cells: list[PlannedCell]
    title: str = ""
    x_title: str = "LoRA weight"
    y_title: str = "checkpoint"
    z_title: str = "prompt"
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(columns, rows, sub-grids)."""
        return len(self.x_labels), len(self.y_labels), max(1, len(self.z_labels))


@dataclass(frozen=True)
class GenerationSettings:
    """The txt2img fields shared by every cell of a plan."""

    negative_prompt: str = ""
    steps: int = 20
    sampler_name: str = "Euler a"
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512

    @classmethod
    def from_values(cls, values: dict, width: int, height: int) -> GenerationSettings:
        """From checked fields named as here (an HTTP body, a stored preview setting)."""
        return cls(negative_prompt=values["negative_prompt"], steps=values["steps"],
                   sampler_name=values["sampler_name"] or "Euler a", cfg_scale=float(values["cfg_scale"]),
                   width=width, height=height)

    def validate(self) -> None:
        # WebUI works in latents of 1/8 size; the Host protocol refuses other sizes too.
        if self.width < 8 or self.height < 8 or self.width % 8 or self.height % 8:
            raise ValueError(messages.PLAN_BAD_SIZE.format(width=self.width, height=self.height))
        if self.steps < 1:
            raise ValueError(messages.PLAN_BAD_STEPS.format(steps=self.steps))


def resolve_seed(seed: int | None, rng: random.Random | None = None) -> int:
    """-1 or None becomes one concrete random seed, drawn once for the whole grid (like fix_seed)."""
    if seed is None or seed < 0:
        return (rng or random.Random()).randint(0, _MAX_SEED)
    return int(seed)


def weight_label(weight: float) -> str:
    return f"weight {format_weight(weight)}"


def _clean_prompts(prompts: str | Sequence[str]) -> list[str]:
    items = [prompts] if isinstance(prompts, str) else list(prompts)
    cleaned = [p.strip() for p in items if p and p.strip()]
    if not cleaned:
        raise ValueError(messages.PLAN_NO_PROMPTS)
    return cleaned


def _check_checkpoints(checkpoints: Sequence[CheckpointRef]) -> None:
    if not checkpoints:
        raise ValueError(messages.PLAN_NO_CHECKPOINTS)
    names: set[str] = set()
    for ckpt in checkpoints:
        check_lora_name(ckpt.name)
        if ckpt.name in names:
            raise ValueError(messages.PLAN_DUPLICATE_LORA_NAME.format(name=ckpt.name))
        names.add(ckpt.name)


def grid_plan(
    checkpoints: Sequence[CheckpointRef],
    weights: Sequence[float],
    prompts: str | Sequence[str],
    settings: GenerationSettings | None = None,
    *,
    seed: int | None = -1,
    batch_side: int = 1,
    title: str = "",
    baseline: bool = False,
    axis: ValueAxis | None = None,
) -> GridPlan:
    """Epochs × weights (× prompts) with one fixed seed.

    Render order puts the checkpoint outermost: WebUI keeps a loaded network in memory while its
    name stays the same, so each file is read from disk once (xyz_grid puts its costly axis
    outermost for the same reason). Within a checkpoint, prompts then weights.

    With ``baseline`` the first column is the base model alone (no LoRA, weight 0, labelled
    :data:`BASELINE_LABEL`): each row's baseline cell is the same request, which
    ``render.reuse_baseline`` renders once per prompt.
    """
    settings = settings or GenerationSettings()
    settings.validate()
    _check_checkpoints(checkpoints)
    if not weights:
        raise ValueError(messages.WEIGHTS_EMPTY)
    if not 1 <= batch_side <= MAX_BATCH_SIDE:
        raise ValueError(messages.PLAN_BAD_BATCH.format(limit=MAX_BATCH_SIDE, n=batch_side))
    prompt_list = _clean_prompts(prompts)
    fixed_seed = resolve_seed(seed)

    axis = axis or ValueAxis()
    columns: list[float | None] = [None, *weights] if baseline else list(weights)  # None: no LoRA
    x_labels = [axis.baseline_label if w is None else axis.value_label(w) for w in columns]
    y_labels = [c.label for c in checkpoints]
    z_labels = prompt_list if len(prompt_list) > 1 else []

    cells: list[PlannedCell] = []
    for y, ckpt in enumerate(checkpoints):
        for z, prompt in enumerate(prompt_list):
            for x, weight in enumerate(columns):
                lora = None if weight is None else LoraRef(name=ckpt.word or ckpt.name, weight=float(weight),
                                                           path=ckpt.path, kind=ckpt.kind)
                cell_prompt = prompt
                if lora is None and axis.baseline_prompt is not None:
                    cell_prompt = axis.baseline_prompt(prompt)
                request = CellRequest(
                    prompt=cell_prompt,
                    negative_prompt=settings.negative_prompt,
                    seed=fixed_seed,
                    steps=settings.steps,
                    sampler_name=settings.sampler_name,
                    cfg_scale=settings.cfg_scale,
                    width=settings.width,
                    height=settings.height,
                    lora=lora,
                    # n×n images as n batches of n: the memory of a batch of n, the seeds of WebUI.
                    batch_size=batch_side,
                    n_iter=batch_side,
                )
                cells.append(
                    PlannedCell(
                        index=len(cells),
                        x=x,
                        y=y,
                        z=z,
                        x_label=x_labels[x],
                        y_label=y_labels[y],
                        z_label=z_labels[z] if z_labels else "",
                        checkpoint=ckpt,
                        weight=float(weight or 0.0),
                        prompt=cell_prompt,
                        request=request,
                    )
                )
    return GridPlan(
        x_labels=x_labels,
        y_labels=y_labels,
        z_labels=z_labels,
        seed=fixed_seed,
        cells=cells,
        title=title,
        x_title=axis.title,
        meta={"batch_side": batch_side, "settings": settings.__dict__.copy()},
    )


def single_checkpoint_preview(
    checkpoint: CheckpointRef,
    weights: Sequence[float],
    prompt: str | Sequence[str],
    settings: GenerationSettings | None = None,
    *,
    seed: int | None = -1,
    batch_side: int = 1,
    title: str = "",
) -> GridPlan:
    """The **Preview** button beside one checkpoint: one row, a column per weight, n×n images per cell."""
    return grid_plan(
        # The row already says "epoch 3"; the title names the file, which is what a user publishes.
        [checkpoint], weights, prompt, settings, seed=seed, batch_side=batch_side,
        title=title or Path(checkpoint.path).stem,
    )


def comparison_plans(
    versions: Sequence[tuple[str, CheckpointRef]],
    weights: Sequence[float],
    prompts: str | Sequence[str],
    settings: GenerationSettings | None = None,
    *,
    seed: int | None = -1,
    baseline: bool = False,
    axis: ValueAxis | None = None,
) -> list[tuple[str, GridPlan]]:
    """One plan per trained version with the same prompt, seed and weights, for side-by-side compare."""
    if len(versions) < 2:
        raise ValueError(messages.PLAN_NO_VERSIONS)
    _check_checkpoints([ckpt for _, ckpt in versions])
    fixed_seed = resolve_seed(seed)
    plans = []
    for name, ckpt in versions:
        # No title: build_comparison writes the version name above each block.
        plan = grid_plan([ckpt], weights, prompts, settings, seed=fixed_seed, baseline=baseline, axis=axis)
        plan.meta["version"] = name
        plans.append((name, plan))
    return plans

