"""Keep WebUI's loaded model exactly as it was around an in-process training run.

Before: undo the LoRA weights WebUI's Lora extension merged into the layers (it keeps a CPU backup
per layer and only restores it on the next forward with a different set of networks), forget the
loaded networks so the next generation re-applies them, and put hypernetworks aside. Then take a
:class:`ModelState`: every parameter's and buffer's fingerprint (``fingerprint.py``), parameter
identities, ``requires_grad`` and train/eval flags, hook and instance-forward counts.

After (finished, interrupted or failed): restore the flags and the hypernetworks, take the state
again and compare. On a difference the checkpoint is reloaded from its file through WebUI (the
only full backup that costs no memory) and compared once more; if it still differs,
:class:`ModelChangedError` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from model_workbench.webui import messages
from model_workbench.webui.fingerprint import TensorPrint, differences, fingerprint, model_tensors
from model_workbench.webui.trainable import set_option

log = logging.getLogger(__name__)


class ModelChangedError(RuntimeError):
    """The loaded model could not be brought back to its state before training."""


def clear_applied_networks(sd_model: nn.Module, networks: Any | None) -> int:
    """Restore every layer WebUI's Lora extension changed; returns how many layers had a backup.

    Mirrors what ``networks.network_apply_weights`` does on a forward with no networks, then resets
    the per-layer cache (``network_reset_cached_weight``) so the next generation that asks for a
    LoRA backs the clean weights up again and merges afresh.
    """
    if networks is None:
        return 0
    loaded = getattr(networks, "loaded_networks", None)
    if loaded is not None:
        loaded.clear()
    # WebUI restores inside a forward under no_grad; out here the weights may require grad.
    with torch.no_grad():
        return _restore_layers(sd_model, networks)


def _restore_layers(sd_model: nn.Module, networks: Any) -> int:
    restored = 0
    for module in sd_model.modules():
        has_backup = (getattr(module, "network_weights_backup", None) is not None
                      or getattr(module, "network_bias_backup", None) is not None)
        if has_backup:
            networks.network_restore_weights_from_backup(module)
            restored += 1
        if has_backup or getattr(module, "network_current_names", ()):
            networks.network_reset_cached_weight(module)
    return restored


def _extra_tensors(sd_model: nn.Module) -> dict[str, torch.Tensor]:
    # SDXL's alphas_cumprod is a plain attribute, not a buffer.
    value = getattr(sd_model, "alphas_cumprod", None)
    return {"alphas_cumprod": value} if isinstance(value, torch.Tensor) else {}


@dataclass
class ModelState:
    """Everything about the model the trainer could change, cheap to take twice."""

    prints: dict[str, TensorPrint]
    ids: dict[str, int]
    grads: list[tuple[nn.Parameter, bool]] = field(repr=False)
    modes: list[tuple[nn.Module, bool]] = field(repr=False)
    hooks: int = 0
    forwards: int = 0

    @classmethod
    def take(cls, sd_model: nn.Module) -> ModelState:
        modules = list(sd_model.modules())
        return cls(
            prints=fingerprint(model_tensors(sd_model, _extra_tensors(sd_model))),
            ids={name: id(p) for name, p in sd_model.named_parameters()},
            grads=[(p, p.requires_grad) for p in sd_model.parameters()],
            modes=[(m, m.training) for m in modules],
            hooks=sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in modules),
            forwards=sum("forward" in m.__dict__ for m in modules),
        )

    def restore_flags(self) -> None:
        for p, flag in self.grads:
            p.requires_grad_(flag)
        for m, flag in self.modes:
            m.training = flag

    def compare(self, other: ModelState) -> list[str]:
        """What differs, one short item per difference (tensor names first)."""
        problems = differences(self.prints, other.prints)
        if self.ids != other.ids:
            problems.append("parameter objects")
        if [f for _, f in self.grads] != [f for _, f in other.grads]:
            problems.append("requires_grad flags")
        if [f for _, f in self.modes] != [f for _, f in other.modes]:
            problems.append("train/eval modes")
        if self.hooks != other.hooks:
            problems.append("forward hooks")
        if self.forwards != other.forwards:
            problems.append("patched forwards")
        return problems


def _examples(problems: list[str]) -> str:
    return ", ".join(problems[:3])


@contextmanager
def guarded_model(
    current_model: Callable[[], nn.Module],
    networks: Any | None,
    hypernetworks: list | None,
    opts: Any,
    reload: Callable[[], None] | None = None,
) -> Iterator[ModelState]:
    """Clear applied networks, then yield; on exit make sure the model is exactly as it was.

    ``current_model`` returns WebUI's model (``shared.sd_model``) — read again after a reload;
    ``reload`` reloads the checkpoint's weights from its file. ``opts.CLIP_stop_at_last_layers``
    is restored too, since the adapter sets it while encoding captions.
    """
    sd_model = current_model()
    restored = clear_applied_networks(sd_model, networks)
    if restored:
        log.info("Model Workbench: restored %d layers from the Lora extension's backups before training", restored)
    saved_hypernetworks = list(hypernetworks) if hypernetworks is not None else None
    if hypernetworks is not None:
        hypernetworks.clear()  # a loaded hypernetwork would change every cross-attention during training
    saved_clip_skip = getattr(opts, "CLIP_stop_at_last_layers", None)
    before = ModelState.take(sd_model)
    try:
        yield before
    finally:
        if saved_clip_skip is not None:
            set_option(opts, "CLIP_stop_at_last_layers", saved_clip_skip)
        before.restore_flags()
        if hypernetworks is not None and saved_hypernetworks is not None:
            hypernetworks[:] = saved_hypernetworks
        problems = before.compare(ModelState.take(current_model()))
        if problems:
            if reload is None:
                raise ModelChangedError(messages.MODEL_CHANGED.format(count=len(problems), examples=_examples(problems)))
            log.warning("Model Workbench: the model changed during training (%s); reloading the checkpoint",
                        _examples(problems))
            reload()
            still = before.compare(ModelState.take(current_model()))
            if still:
                raise ModelChangedError(messages.MODEL_CHANGED.format(count=len(still), examples=_examples(still)))
            log.warning(messages.MODEL_RELOADED.format(count=len(problems), examples=_examples(problems)))
