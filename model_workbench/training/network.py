"""LoRA modules injected into a model's default kohya targets, removable bit for bit.

Base weights are never modified. A Linear or 1×1 Conv2d target gets a forward hook that adds
``lora_up(lora_down(x)) · multiplier · alpha/rank`` to its output. An OpenCLIP
``nn.MultiheadAttention`` (whose forward reads ``in_proj_weight`` and ``out_proj.weight`` directly,
never calling ``out_proj``) gets an instance ``forward`` that runs the class forward with
``W + ΔW`` swapped in for the duration of the call; the original Parameter objects are put back
afterwards. ``remove()`` drops the hooks and the instance forwards, leaving the model exactly as
it was.

The network's ``state_dict()`` keys are kohya's: ``<kohya_key>.lora_down.weight``,
``<kohya_key>.lora_up.weight``, ``<kohya_key>.alpha``.

With ``conv_dim`` (kohya's LoCon / C3Lier) the UNet's ResBlocks and samplers are targets too: a 3×3
conv gets ``lora_down`` = Conv2d(in, conv_dim, its kernel, stride, padding) and ``lora_up`` =
Conv2d(conv_dim, out, 1×1), scaled by ``conv_alpha``; the Linear and 1×1 conv inside a ResBlock take
``network_dim``/``network_alpha`` as kohya gives them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .naming import TE, TE1, TE2, UNET, Target, targets_for

MSG_RANK = "The LoRA rank (network_dim) must be at least 1."

TEXT_ENCODER_PARTS = (TE, TE1, TE2)


@dataclass
class FoundTarget:
    target: Target
    webui_name: str
    module: nn.Module


def is_linear(module: nn.Module) -> bool:
    """A Linear layer: ``nn.Linear`` or a look-alike that is not its subclass (Forge's
    ``ForgeOperations.Linear`` is a plain Module with ``in_features``/``out_features``/``weight``)."""
    if isinstance(module, nn.Linear):
        return True
    return (type(module).__name__ == "Linear" and isinstance(getattr(module, "in_features", None), int)
            and isinstance(getattr(module, "out_features", None), int))


def is_conv_kxk(module: nn.Module) -> bool:
    """A Conv2d with a kernel larger than 1×1: it takes conv_dim, not network_dim."""
    return isinstance(module, nn.Conv2d) and tuple(module.kernel_size) != (1, 1)


def find_targets(root: nn.Module, family: str, conv: bool = False) -> list[FoundTarget]:
    """Every default kohya target in ``root`` (WebUI's ``shared.sd_model`` or a look-alike); with
    ``conv``, kohya's conv_dim targets (ResBlocks, Downsamples, Upsamples) as well."""
    found: list[FoundTarget] = []
    for name, module in root.named_modules():
        if isinstance(module, nn.MultiheadAttention):
            targets = targets_for(name, family, is_multihead_attention=True)
        elif is_linear(module) or (isinstance(module, nn.Conv2d) and (conv or module.kernel_size == (1, 1))):
            targets = targets_for(name, family, conv=conv)
        else:
            continue
        found.extend(FoundTarget(t, name, module) for t in targets)
    if family == "sd2":
        # WebUI's OpenCLIP ViT-H has 24 blocks but SD2 conditions on the penultimate one, so
        # kohya's SD2 text encoder has 23 layers: the last block gets no LoRA.
        te_layers = [f.target.layer for f in found if f.target.part == TE and f.target.layer is not None]
        if te_layers:
            last = max(te_layers)
            found = [f for f in found if not (f.target.part == TE and f.target.layer == last)]
    return found


def _features(module: nn.Module) -> tuple[int, int, bool]:
    """(in, out, is_conv) of the LoRA a target needs."""
    if isinstance(module, nn.MultiheadAttention):
        return module.embed_dim, module.embed_dim, False
    if isinstance(module, nn.Conv2d):
        return module.in_channels, module.out_channels, True
    return module.in_features, module.out_features, False  # type: ignore[union-attr]


class LoRAModule(nn.Module):
    """kohya's LoRA: down (rank × in, kaiming-uniform a=√5), up (out × rank, zeros), alpha buffer."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        alpha: float | None,
        conv: bool = False,
        dropout: float | None = None,
        rank_dropout: float | None = None,
        module_dropout: float | None = None,
        kernel: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1), (0, 0)),
    ) -> None:
        super().__init__()
        if conv:
            # kernel = (kernel_size, stride, padding) of the wrapped conv; kohya's lora_down copies
            # them, so its output lines up with the conv's; lora_up is always 1×1.
            size, stride, padding = kernel
            self.lora_down: nn.Module = nn.Conv2d(in_features, rank, size, stride, padding, bias=False)
            self.lora_up: nn.Module = nn.Conv2d(rank, out_features, 1, bias=False)
        else:
            self.lora_down = nn.Linear(in_features, rank, bias=False)
            self.lora_up = nn.Linear(rank, out_features, bias=False)
        alpha = float(rank) if alpha is None or alpha == 0 else float(alpha)
        self.rank = rank
        self.scale = alpha / rank
        self.register_buffer("alpha", torch.tensor(alpha))
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)
        self.multiplier = 1.0
        self.dropout = dropout
        self.rank_dropout = rank_dropout
        self.module_dropout = module_dropout

    def _skip_module(self) -> bool:
        return bool(self.module_dropout) and self.training and torch.rand(1).item() < self.module_dropout  # type: ignore[operator]

    def delta(self, x: torch.Tensor) -> torch.Tensor | None:
        """The LoRA's contribution for input ``x`` (None when module dropout drops it)."""
        if self._skip_module():
            return None
        weight = self.lora_down.weight
        if not torch.is_autocast_enabled() and x.dtype != weight.dtype:
            x = x.to(weight.dtype)
        lx = self.lora_down(x)
        if self.dropout and self.training:
            lx = F.dropout(lx, p=self.dropout)
        scale = self.scale
        if self.rank_dropout and self.training:
            mask = (torch.rand((lx.size(0), self.rank), device=lx.device) > self.rank_dropout).to(lx.dtype)
            if lx.dim() == 3:
                mask = mask.unsqueeze(1)
            elif lx.dim() == 4:
                mask = mask.unsqueeze(-1).unsqueeze(-1)
            lx = lx * mask
            scale = scale / (1.0 - self.rank_dropout)
        return self.lora_up(lx) * (self.multiplier * scale)

    def weight_delta(self) -> torch.Tensor | None:
        """ΔW = up·down·scale·multiplier as a 2-D matrix (used for MultiheadAttention slices)."""
        if self._skip_module():
            return None
        down = self.lora_down.weight.flatten(1)
        up = self.lora_up.weight.flatten(1)
        scale = self.scale
        if self.rank_dropout and self.training:
            # Merged-weight form: one rank mask per step for the whole batch.
            mask = (torch.rand(self.rank, device=down.device) > self.rank_dropout).to(down.dtype)
            down = down * mask[:, None]
            scale = scale / (1.0 - self.rank_dropout)
        return (up @ down) * (self.multiplier * scale)


class LoRANetwork(nn.Module):
    """The set of LoRA modules for one model; a context manager that injects and removes them."""

    def __init__(
        self,
        root: nn.Module,
        family: str,
        rank: int = 4,
        alpha: float | None = 1.0,
        train_unet: bool = True,
        train_text_encoder: bool = True,
        dropout: float | None = None,
        rank_dropout: float | None = None,
        module_dropout: float | None = None,
        conv_dim: int | None = None,
        conv_alpha: float | None = None,
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(MSG_RANK)
        # kohya: conv_dim 0/None leaves the 3×3 convs alone; conv_alpha defaults to 1 when unset.
        conv = bool(conv_dim)
        conv_alpha = 1.0 if conv_alpha is None else conv_alpha
        self.family = family
        self.rank = rank
        self._hosts: list[tuple[nn.Module, list[tuple[Target, LoRAModule]]]] = []
        self._handles: list = []
        self._mha_previous: list[tuple[nn.Module, object]] = []
        self.applied = False
        by_module: dict[int, tuple[nn.Module, list[tuple[Target, LoRAModule]]]] = {}
        # MultiheadAttention.forward reads out_proj.weight itself and never calls out_proj, so an
        # out_proj LoRA must be applied by its owner's patched forward, not by a hook.
        owners = {id(m.out_proj): m for m in root.modules() if isinstance(m, nn.MultiheadAttention)}
        for found in find_targets(root, family, conv=conv):
            part = found.target.part
            if (part == UNET and not train_unet) or (part in TEXT_ENCODER_PARTS and not train_text_encoder):
                continue
            fin, fout, is_conv = _features(found.module)
            if is_conv_kxk(found.module):
                m = found.module
                kernel = (tuple(m.kernel_size), tuple(m.stride), tuple(m.padding))
                lora = LoRAModule(fin, fout, conv_dim, conv_alpha, True, dropout, rank_dropout, module_dropout,
                                  kernel)  # type: ignore[arg-type]
            else:
                lora = LoRAModule(fin, fout, rank, alpha, is_conv, dropout, rank_dropout, module_dropout)
            ref = next(found.module.parameters(), None)
            if ref is not None and ref.device.type != "meta":
                lora.to(ref.device)
            self.add_module(found.target.kohya_key, lora)
            host = owners.get(id(found.module), found.module)
            entry = by_module.setdefault(id(host), (host, []))
            entry[1].append((found.target, lora))
        self._hosts = list(by_module.values())

    # -- bookkeeping ---------------------------------------------------------------------------
    def loras(self) -> Iterator[tuple[Target, LoRAModule]]:
        for _module, items in self._hosts:
            yield from items

    def parameters_for(self, parts: Iterable[str]) -> list[nn.Parameter]:
        wanted = set(parts)
        params: list[nn.Parameter] = []
        for target, lora in self.loras():
            if target.part in wanted:
                params.extend(lora.parameters())
        return params

    def unet_parameters(self) -> list[nn.Parameter]:
        return self.parameters_for([UNET])

    def text_encoder_parameters(self) -> list[nn.Parameter]:
        return self.parameters_for(TEXT_ENCODER_PARTS)

    def set_multiplier(self, multiplier: float) -> None:
        for _t, lora in self.loras():
            lora.multiplier = multiplier

    # -- inject / remove -----------------------------------------------------------------------
    def apply(self) -> LoRANetwork:
        """Inject into the model. Safe to call once; a failure part-way removes what was added."""
        if self.applied:
            return self
        try:
            for module, items in self._hosts:
                if isinstance(module, nn.MultiheadAttention):
                    self._patch_mha(module, items)
                else:
                    lora = items[0][1]
                    self._handles.append(module.register_forward_hook(_make_hook(lora)))
            self.applied = True
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Take every hook and forward patch out again; the model is left exactly as before."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for module, previous in reversed(self._mha_previous):
            if previous is None:
                module.__dict__.pop("forward", None)
            else:
                module.__dict__["forward"] = previous
        self._mha_previous.clear()
        self.applied = False

    def __enter__(self) -> LoRANetwork:
        return self.apply()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _patch_mha(self, mha: nn.MultiheadAttention, items: list[tuple[Target, LoRAModule]]) -> None:
        if mha.in_proj_weight is None:
            raise ValueError("A MultiheadAttention with separate q/k/v weights is not supported.")
        by_proj = {t.projection: lora for t, lora in items if t.projection}
        out_loras = [lora for t, lora in items if t.projection is None]
        previous = mha.__dict__.get("forward")
        cls_forward = type(mha).forward

        def forward(*args: object, **kwargs: object) -> object:
            in_w = mha._parameters["in_proj_weight"]
            out_w = mha.out_proj._parameters["weight"]
            e = mha.embed_dim
            deltas = []
            for _i, p in enumerate(("q", "k", "v")):
                lora = by_proj.get(p)
                d = lora.weight_delta() if lora is not None else None
                deltas.append(d if d is not None else in_w.new_zeros(e, e))  # type: ignore[union-attr]
            new_in = in_w + torch.cat(deltas, 0).to(in_w.dtype)  # type: ignore[operator]
            new_out = out_w
            for lora in out_loras:
                d = lora.weight_delta()
                if d is not None:
                    new_out = new_out + d.to(out_w.dtype)  # type: ignore[operator]
            mha._parameters["in_proj_weight"] = new_in  # type: ignore[assignment]
            mha.out_proj._parameters["weight"] = new_out  # type: ignore[assignment]
            try:
                if previous is not None:
                    return previous(*args, **kwargs)  # type: ignore[operator]
                return cls_forward(mha, *args, **kwargs)
            finally:
                mha._parameters["in_proj_weight"] = in_w
                mha.out_proj._parameters["weight"] = out_w

        self._mha_previous.append((mha, previous))
        mha.__dict__["forward"] = forward


def _make_hook(lora: LoRAModule):
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        delta = lora.delta(inputs[0])
        if delta is None:
            return output
        return output + delta.to(output.dtype)

    return hook
