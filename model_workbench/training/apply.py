"""Apply a kohya LoRA file to a model's weights the way WebUI's built-in Lora extension does.

For every module in the file: ``W += up·down · (alpha/rank) · multiplier`` (1×1 conv tensors are
reshaped to the target weight's shape, so 4-D SD2 ``proj_in`` LoRAs land on WebUI's Linear),
with the text-encoder multiplier for ``lora_te*`` keys and the UNet multiplier otherwise. q/k/v of
an OpenCLIP MultiheadAttention go into row slices of ``in_proj_weight`` and, as in WebUI, only
when the block's q, k, v and out_proj are all present.

:func:`applied_lora` is a context manager that restores every touched weight exactly (from a
copy) on exit, even when the body raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from .checkpoint import load_lora
from .naming import is_text_encoder_key
from .network import find_targets


def _module_deltas(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """kohya key → ΔW (2-D, or 4-D for a 1×1 conv), with alpha/rank applied, multiplier not."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for full_key, tensor in tensors.items():
        key, _, part = full_key.partition(".")
        groups.setdefault(key, {})[part] = tensor
    deltas = {}
    for key, parts in groups.items():
        if "lora_up.weight" not in parts or "lora_down.weight" not in parts:
            continue
        up = parts["lora_up.weight"].float()
        down = parts["lora_down.weight"].float()
        rank = down.shape[0]
        alpha = float(parts["alpha"]) if "alpha" in parts else float(rank)
        delta = up.flatten(1) @ down.flatten(1) * (alpha / rank)
        if up.dim() == 4:
            delta = delta[:, :, None, None]
        deltas[key] = delta
    return deltas


@contextlib.contextmanager
def applied_lora(
    root: nn.Module,
    family: str,
    tensors: dict[str, torch.Tensor] | str,
    multiplier: float = 1.0,
    te_multiplier: float | None = None,
) -> Iterator[list[str]]:
    """Merge a LoRA (tensors or a file path) into ``root``'s weights; restore them on exit.

    Yields the kohya keys that found no module (WebUI silently ignores those).
    """
    if isinstance(tensors, str):
        tensors = load_lora(tensors).tensors
    te_multiplier = multiplier if te_multiplier is None else te_multiplier
    deltas = _module_deltas(tensors)
    index = {f.target.kohya_key: f for f in find_targets(root, family)}
    backups: list[tuple[torch.Tensor, torch.Tensor]] = []
    unmatched = sorted(k for k in deltas if k not in index)

    def add(weight: torch.Tensor, delta: torch.Tensor, rows: slice | None = None) -> None:
        target = weight if rows is None else weight[rows]
        if delta.shape != target.shape:
            delta = delta.reshape(target.shape)
        if not any(b[0] is weight for b in backups):
            backups.append((weight, weight.detach().clone()))
        with torch.no_grad():
            target.add_(delta.to(device=weight.device, dtype=weight.dtype))

    try:
        mha_groups: dict[str, dict[str | None, tuple]] = {}
        for key, delta in deltas.items():
            found = index.get(key)
            if found is None:
                continue
            scale = te_multiplier if is_text_encoder_key(key) else multiplier
            module = found.module
            if isinstance(module, nn.MultiheadAttention) or found.webui_name.endswith(".attn.out_proj"):
                owner = module if isinstance(module, nn.MultiheadAttention) else None
                name = found.webui_name if owner is not None else found.webui_name[: -len(".out_proj")]
                mha_groups.setdefault(name, {})[found.target.projection] = (found, delta * scale, name)
                continue
            add(module.weight, delta * scale)
        # OpenCLIP attention: WebUI applies q/k/v/out together, and only when all four exist.
        for group in mha_groups.values():
            if not all(p in group for p in ("q", "k", "v", None)):
                unmatched.extend(g[0].target.kohya_key for g in group.values())
                continue
            mha = group["q"][0].module
            e = mha.embed_dim
            for i, p in enumerate(("q", "k", "v")):
                add(mha.in_proj_weight, group[p][1], slice(i * e, (i + 1) * e))
            add(group[None][0].module.weight, group[None][1])
        yield sorted(unmatched)
    finally:
        with torch.no_grad():
            for weight, original in backups:
                weight.copy_(original)
