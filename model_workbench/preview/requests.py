"""One preview cell as plain data, the prompt it sends, and the parsing of a user's weight list.

The WebUI adapter turns a ``CellRequest`` into ``StableDiffusionProcessingTxt2Img``; everything
here is pure so the same request can be rendered by the test suite's tiny host or by WebUI.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from . import messages

# The most weights one list may expand to: a range typo such as 0-10:0.001 would otherwise
# queue ten thousand generations.
MAX_WEIGHTS = 64


class WeightListError(ValueError):
    """A weight list the user typed cannot be understood; the message says how to fix it."""


@dataclass(frozen=True)
class LoraRef:
    """The LoRA a cell applies: the name used in ``<lora:NAME:WEIGHT>`` and the file behind it.

    ``name`` must be unique per file: WebUI caches loaded networks and text conditioning by
    name, so two epochs under one name would silently render the same weights.
    """

    name: str
    weight: float = 1.0
    path: str = ""
    # "lora", "hypernet" (``<hypernet:NAME:STRENGTH>``) or "embedding" (no tag: ``name`` is the word in the
    # prompt), as ExtraNetwork.kind; the name of a hypernet or embedding preview is registered by the host.
    kind: str = "lora"

    def tag(self) -> str:
        """The extra-network tag WebUI's prompt parser understands ("" for an embedding: its word is the prompt's)."""
        check_lora_name(self.name)
        if self.kind == "embedding":
            return ""
        return f"<{self.kind}:{self.name}:{format_weight(self.weight)}>"


@dataclass(frozen=True)
class CellRequest:
    """Everything needed to render one preview cell (WebUI's txt2img fields, §5.1)."""

    prompt: str
    negative_prompt: str = ""
    seed: int = -1
    steps: int = 20
    sampler_name: str = "Euler a"
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    lora: LoraRef | None = None
    # batch_size × n_iter images share the prompt; WebUI gives them seeds seed, seed+1, ...
    batch_size: int = 1
    n_iter: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image_count(self) -> int:
        return max(1, self.batch_size) * max(1, self.n_iter)

    def final_prompt(self) -> str:
        """The prompt with the LoRA tag appended, exactly as it is sent to WebUI."""
        return build_prompt(self.prompt, self.lora)

    def image_seeds(self) -> list[int]:
        """The seed of each image this request yields (WebUI: ``seed + i`` with no subseed)."""
        return [self.seed + i for i in range(self.image_count)]

    def with_seed(self, seed: int) -> CellRequest:
        return replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["final_prompt"] = self.final_prompt()
        return data


def check_lora_name(name: str) -> None:
    """Refuse names that would break ``<lora:NAME:W>`` parsing (split on ':' and ended by '>')."""
    if not name or not name.strip() or any(ch in name for ch in ":<>\n\r"):
        raise ValueError(messages.LORA_NAME_INVALID.format(name=name))


def format_weight(weight: float) -> str:
    """A weight written compactly: 1 not 1.0, 0.6 not 0.6000000001, -0.5, 0.125.

    Four decimals are more than any LoRA slider offers and hide float noise from ranges.
    """
    text = f"{round(float(weight), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def build_prompt(prompt: str, lora: LoraRef | None) -> str:
    """Append the LoRA tag to the user's prompt with a single separating space."""
    base = prompt.strip()
    if lora is None:
        return base
    tag = lora.tag()
    if not tag:
        return base
    return f"{base} {tag}" if base else tag


def format_infotext(request: CellRequest) -> str:
    """A WebUI-style infotext for a request, for cells whose renderer gives none and for blank grids.

    Same shape as ``processing.create_infotext``: prompt line, ``Negative prompt:`` line, then
    ``Key: value`` pairs, so WebUI's PNG Info tab and "send to txt2img" can read it.
    """
    lines = [request.final_prompt()]
    if request.negative_prompt.strip():
        lines.append(f"Negative prompt: {request.negative_prompt.strip()}")
    params = [
        f"Steps: {request.steps}",
        f"Sampler: {request.sampler_name}",
        f"CFG scale: {format_weight(request.cfg_scale)}",
        f"Seed: {request.seed}",
        f"Size: {request.width}x{request.height}",
    ]
    if request.image_count > 1:
        params.append(f"Batch size: {request.batch_size}")
    lines.append(", ".join(params))
    return "\n".join(lines)


# --- weight lists --------------------------------------------------------------------------

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# "a-b", then optionally ":step", "(+step)", "(-step)", "(count)", "[count]" (WebUI's forms plus ":").
_RANGE = re.compile(
    rf"^\s*(?P<start>{_NUMBER})\s*-\s*(?P<end>{_NUMBER})\s*"
    rf"(?:(?::\s*(?P<colon_step>{_NUMBER}))"
    rf"|(?:\(\s*(?P<paren>{_NUMBER})\s*\))"
    rf"|(?:\[\s*(?P<bracket>{_NUMBER})\s*\]))?\s*$"
)
_SEPARATORS = re.compile(r"[,;，；、]")  # ASCII and full-width commas: Chinese keyboards type "，"


def parse_weight_list(text: str, *, limit: int = MAX_WEIGHTS) -> list[float]:
    """Parse ``0.6, 0.8, 1.0``, ``0.2-1.0:0.2``, ``0.2-1.0 (5)`` and WebUI's ``0-1 (+0.25)`` / ``0-1 [5]``.

    Items are separated by commas; empty items are ignored (as WebUI does); repeated weights are
    kept once, in first-seen order, since a repeated column would only render the same image.
    ``(N)`` with an unsigned integer is a count; a signed ``(+x)``/``(-x)`` is a step, as in WebUI.
    Raises ``WeightListError`` with an actionable message.
    """
    weights: list[float] = []
    seen: set[str] = set()
    for raw in _SEPARATORS.split(text or ""):
        item = raw.strip()
        if not item:
            continue
        for value in _parse_item(item):
            key = format_weight(value)
            if key not in seen:
                seen.add(key)
                weights.append(float(key))
            if len(weights) > limit:
                raise WeightListError(messages.WEIGHTS_TOO_MANY.format(count=f"more than {limit}", limit=limit))
    if not weights:
        raise WeightListError(messages.WEIGHTS_EMPTY)
    return weights


def _decimal(text: str, item: str) -> Decimal:
    try:
        value = Decimal(text.replace(" ", ""))
    except InvalidOperation:
        raise WeightListError(messages.WEIGHT_NOT_A_NUMBER.format(item=item)) from None
    if not value.is_finite():
        raise WeightListError(messages.WEIGHT_NOT_FINITE.format(item=item))
    return value


def _parse_item(item: str) -> list[float]:
    match = _RANGE.match(item)
    if match is None:
        try:
            value = float(item)
        except ValueError:
            raise WeightListError(messages.WEIGHT_NOT_A_NUMBER.format(item=item)) from None
        if not math.isfinite(value):
            raise WeightListError(messages.WEIGHT_NOT_FINITE.format(item=item))
        return [value]

    # Decimal arithmetic so 0.2-1.0:0.2 gives exactly 0.2, 0.4, 0.6, 0.8, 1.0 with no float drift.
    start = _decimal(match["start"], item)
    end = _decimal(match["end"], item)
    paren = match["paren"]
    if match["bracket"] is not None:
        return _by_count(start, end, match["bracket"], item)
    if paren is not None:
        if paren[0] in "+-":
            return _by_step(start, end, _decimal(paren, item), item)
        if re.fullmatch(r"\d+", paren):
            return _by_count(start, end, paren, item)
        raise WeightListError(
            messages.WEIGHT_AMBIGUOUS_PAREN.format(item=item, count=max(1, int(float(paren))), step=paren)
        )
    if match["colon_step"] is not None:
        step = _decimal(match["colon_step"], item)
        # A bare ":0.2" means "walk towards the end", whichever direction that is.
        if match["colon_step"][0] not in "+-" and end < start:
            step = -step
        return _by_step(start, end, step, item)
    # "0.2-1.0" with no step: WebUI steps by 1 for integer ranges; for weights the ends are
    # what a user means, so 0.2-1.0 gives 0.2 and 1.0 only when the span is not a whole number.
    return _by_step(start, end, Decimal(1) if end >= start else Decimal(-1), item, include_end=True)


def _by_step(start: Decimal, end: Decimal, step: Decimal, item: str, include_end: bool = False) -> list[float]:
    if step == 0:
        raise WeightListError(messages.WEIGHT_STEP_ZERO.format(item=item))
    if (end - start) * step < 0:
        sign = "positive" if end > start else "negative"
        raise WeightListError(
            messages.WEIGHT_STEP_DIRECTION.format(item=item, sign=sign, start=start, end=end)
        )
    count = int((end - start) / step) + 1
    if count > MAX_WEIGHTS:
        raise WeightListError(messages.WEIGHTS_TOO_MANY.format(count=count, limit=MAX_WEIGHTS))
    values = [start + step * i for i in range(count)]
    if include_end and values[-1] != end:
        values.append(end)
    return [float(v) for v in values]


def _by_count(start: Decimal, end: Decimal, count_text: str, item: str) -> list[float]:
    try:
        count = int(count_text)
    except ValueError:
        raise WeightListError(messages.WEIGHT_NOT_A_NUMBER.format(item=item)) from None
    if count < 1:
        raise WeightListError(messages.WEIGHT_COUNT_TOO_SMALL.format(item=item))
    if count > MAX_WEIGHTS:
        raise WeightListError(messages.WEIGHTS_TOO_MANY.format(count=count, limit=MAX_WEIGHTS))
    if count == 1:
        return [float(start)]
    step = (end - start) / (count - 1)
    return [float(start + step * i) for i in range(count)]
