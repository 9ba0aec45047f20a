"""Weight lists, compact weights, the LoRA prompt and the infotext of a cell request."""

from __future__ import annotations

import pytest

from model_workbench.preview.requests import (
    MAX_WEIGHTS,
    CellRequest,
    LoraRef,
    WeightListError,
    build_prompt,
    format_infotext,
    format_weight,
    parse_weight_list,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.6, 0.8, 1.0", [0.6, 0.8, 1.0]),
        ("1", [1.0]),
        ("0.6,0.8,", [0.6, 0.8]),  # a trailing comma is ignored, as in WebUI
        ("0.6，0.8；1", [0.6, 0.8, 1.0]),  # full-width separators from a Chinese keyboard
        ("-0.5, .5, +1", [-0.5, 0.5, 1.0]),
        ("0.2-1.0:0.2", [0.2, 0.4, 0.6, 0.8, 1.0]),
        ("0.2 - 1.0 : 0.2", [0.2, 0.4, 0.6, 0.8, 1.0]),
        ("0.2-1.0 (5)", [0.2, 0.4, 0.6, 0.8, 1.0]),
        ("0-1 [5]", [0.0, 0.25, 0.5, 0.75, 1.0]),  # WebUI's count form
        ("0-1 (+0.25)", [0.0, 0.25, 0.5, 0.75, 1.0]),  # WebUI's step form
        ("1-0 (-0.5)", [1.0, 0.5, 0.0]),
        ("1-0:0.5", [1.0, 0.5, 0.0]),  # a bare step walks towards the end
        ("0-1:0.3", [0.0, 0.3, 0.6, 0.9]),  # the end is included only when a step lands on it
        ("-1--0.5:0.25", [-1.0, -0.75, -0.5]),
        ("0.5-1.5", [0.5, 1.5]),
        ("0.2-1.0", [0.2, 1.0]),  # no step: both ends
        ("0.5-0.5 (1)", [0.5]),
        ("0.6, 0.6, 0.60, 0.8", [0.6, 0.8]),  # repeats are dropped, order kept
        ("0.6, 0-1 (3)", [0.6, 0.0, 0.5, 1.0]),
    ],
)
def test_parse_weight_list_accepts(text: str, expected: list[float]) -> None:
    assert parse_weight_list(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "at least one"),
        ("  , ,", "at least one"),
        ("abc", "'abc' is not a weight"),
        ("0.6 0.8", "'0.6 0.8' is not a weight"),
        ("1-", "'1-' is not a weight"),
        ("0.2-1.0:x", "'0.2-1.0:x' is not a weight"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("0.2-1.0:0", "is zero"),
        ("0-1 (+0)", "is zero"),
        ("0-1 (-0.2)", "points away"),
        ("1-0 (+0.2)", "points away"),
        ("0-1 (0)", "at least 1"),
        ("0-1 [0]", "at least 1"),
        ("0-1 (0.2)", "unclear"),
        ("0-1 [2.5]", "is not a weight"),
        ("0-10:0.01", "at most"),
        ("0-1 (500)", "at most"),
    ],
)
def test_parse_weight_list_rejects_with_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(WeightListError) as info:
        parse_weight_list(text)
    assert fragment in str(info.value)


def test_parse_weight_list_total_limit_spans_items() -> None:
    items = ", ".join(str(i / 100) for i in range(MAX_WEIGHTS + 1))
    with pytest.raises(WeightListError, match="at most"):
        parse_weight_list(items)
    assert len(parse_weight_list(items, limit=MAX_WEIGHTS + 1)) == MAX_WEIGHTS + 1


@pytest.mark.parametrize(
    ("weight", "text"),
    [(1.0, "1"), (0.6, "0.6"), (0.6000000001, "0.6"), (1.0000001, "1"), (-0.5, "-0.5"), (0.125, "0.125"),
     (0.0, "0"), (-0.00001, "0"), (10, "10"), (0.30000000000000004, "0.3")],
)
def test_format_weight_is_compact(weight: float, text: str) -> None:
    assert format_weight(weight) == text


def test_build_prompt_appends_lora_tag() -> None:
    lora = LoraRef(name="proj_v1-000002", weight=0.8, path="/x/proj_v1-000002.safetensors")
    assert build_prompt("a cat, sitting ", lora) == "a cat, sitting <lora:proj_v1-000002:0.8>"
    assert build_prompt("", LoraRef("猫", 1.0)) == "<lora:猫:1>"
    assert build_prompt("a cat", None) == "a cat"


@pytest.mark.parametrize("name", ["", "  ", "a:b", "a>b", "<a", "a\nb"])
def test_lora_name_that_breaks_the_prompt_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot go into a prompt"):
        LoraRef(name=name, weight=1).tag()


def test_cell_request_seeds_prompt_and_infotext() -> None:
    request = CellRequest(prompt="a cat", negative_prompt="blurry", seed=42, steps=12, sampler_name="DPM++ 2M",
                          cfg_scale=6.5, width=640, height=448, lora=LoraRef("p_v-000001", 0.6),
                          batch_size=2, n_iter=2)
    assert request.image_count == 4
    assert request.image_seeds() == [42, 43, 44, 45]
    assert request.final_prompt() == "a cat <lora:p_v-000001:0.6>"
    info = format_infotext(request)
    assert info.splitlines()[0] == "a cat <lora:p_v-000001:0.6>"
    assert info.splitlines()[1] == "Negative prompt: blurry"
    assert "Steps: 12, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: 42, Size: 640x448" in info
    data = request.to_dict()
    assert data["final_prompt"] == request.final_prompt()
    assert data["lora"] == {"name": "p_v-000001", "weight": 0.6, "path": "", "kind": "lora"}
    assert request.with_seed(7).seed == 7
