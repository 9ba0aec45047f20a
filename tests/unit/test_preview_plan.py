"""Grid plans: axes, one fixed seed, render order, single-checkpoint previews and version comparisons."""

from __future__ import annotations

import random

import pytest

from model_workbench.preview.plan import (
    CheckpointRef,
    GenerationSettings,
    comparison_plans,
    epoch_checkpoint,
    grid_plan,
    resolve_seed,
    single_checkpoint_preview,
    unique_lora_name,
)


def _epochs(n: int = 2) -> list[CheckpointRef]:
    return [epoch_checkpoint(f"/p/checkpoints/cat_v1-{e:06d}.safetensors", e) for e in range(1, n + 1)]


def test_two_epochs_three_weights() -> None:
    plan = grid_plan(_epochs(), [0.6, 0.8, 1.0], "a cat", GenerationSettings(steps=8, width=64, height=64), seed=123)
    assert plan.shape == (3, 2, 1)
    assert plan.total == 6
    assert plan.x_labels == ["weight 0.6", "weight 0.8", "weight 1"]
    assert plan.y_labels == ["epoch 1", "epoch 2"]
    assert plan.z_labels == []
    # Render order: checkpoint outermost, then weight.
    assert [(c.y, c.x) for c in plan.cells] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert [c.index for c in plan.cells] == list(range(6))
    assert {c.request.seed for c in plan.cells} == {123}
    first = plan.cells[0]
    assert first.request.final_prompt() == "a cat <lora:cat_v1-000001:0.6>"
    assert first.request.lora.path == "/p/checkpoints/cat_v1-000001.safetensors"
    assert first.request.steps == 8 and first.request.width == 64
    assert plan.cells[5].request.final_prompt() == "a cat <lora:cat_v1-000002:1>"
    assert first.label == "epoch 1, weight 0.6"


def test_two_epochs_three_weights_two_prompts() -> None:
    plan = grid_plan(_epochs(), [0.6, 0.8, 1.0], ["a cat", "  ", "一只猫"], seed=5)
    assert plan.shape == (3, 2, 2)
    assert plan.total == 12
    assert plan.z_labels == ["a cat", "一只猫"]  # blank prompts are dropped
    positions = {(c.x, c.y, c.z) for c in plan.cells}
    assert len(positions) == 12
    assert [(c.y, c.z, c.x) for c in plan.cells] == sorted((c.y, c.z, c.x) for c in plan.cells)
    assert {c.request.seed for c in plan.cells} == {5}
    cell = next(c for c in plan.cells if (c.x, c.y, c.z) == (2, 1, 1))
    assert cell.request.final_prompt() == "一只猫 <lora:cat_v1-000002:1>"
    assert cell.label == "epoch 2, weight 1, 一只猫"


def test_random_seed_is_drawn_once_for_the_whole_grid() -> None:
    plan = grid_plan(_epochs(), [0.5, 1.0], "x", seed=-1)
    assert plan.seed >= 0
    assert {c.request.seed for c in plan.cells} == {plan.seed}
    assert resolve_seed(None, random.Random(1)) == resolve_seed(-1, random.Random(1))
    assert resolve_seed(77) == 77


def test_single_checkpoint_preview_with_batch() -> None:
    ckpt = epoch_checkpoint("/p/cat_v1-000003.safetensors", 3)
    plan = single_checkpoint_preview(ckpt, [0.6, 1.0], "a cat", seed=9, batch_side=2)
    assert plan.shape == (2, 1, 1)
    assert plan.title == "cat_v1-000003"
    assert plan.y_labels == ["epoch 3"]
    assert all(c.request.batch_size == 2 and c.request.n_iter == 2 for c in plan.cells)
    assert plan.cells[0].request.image_seeds() == [9, 10, 11, 12]


def test_comparison_plans_share_seed_prompt_and_weights() -> None:
    versions = [("v1", epoch_checkpoint("/p/cat_v1-000004.safetensors", 4)),
                ("v2", epoch_checkpoint("/p/cat_v2-000004.safetensors", 4))]
    plans = comparison_plans(versions, [0.6, 1.0], "a cat", seed=-1)
    assert [name for name, _ in plans] == ["v1", "v2"]
    seeds = {c.request.seed for _, p in plans for c in p.cells}
    assert len(seeds) == 1
    assert [c.request.final_prompt() for c in plans[1][1].cells] == [
        "a cat <lora:cat_v2-000004:0.6>", "a cat <lora:cat_v2-000004:1>"]
    with pytest.raises(ValueError, match="at least two versions"):
        comparison_plans(versions[:1], [1.0], "a cat")


def test_checkpoint_labels_and_names() -> None:
    unknown = epoch_checkpoint("/p/cat_v1.safetensors", None)
    assert unknown.label == "cat_v1" and unknown.name == "cat_v1"
    named = CheckpointRef(label="final", path="/p/x.safetensors", lora_name="mw-x-1234")
    assert named.name == "mw-x-1234"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"checkpoints": []}, "at least one checkpoint"),
        ({"weights": []}, "at least one LoRA weight"),
        ({"prompts": ["", " "]}, "Enter a prompt"),
        ({"settings": GenerationSettings(width=0)}, "image size"),
        ({"settings": GenerationSettings(width=500)}, "multiples of 8"),
        ({"settings": GenerationSettings(steps=0)}, "steps"),
        ({"batch_side": 5}, "batch grid size"),
        ({"checkpoints": [CheckpointRef("a", "/a/x.safetensors"), CheckpointRef("b", "/b/x.safetensors")]},
         "same LoRA name"),
        ({"checkpoints": [CheckpointRef("a", "/a/bad:name.safetensors")]}, "cannot go into a prompt"),
    ],
)
def test_bad_plans_are_refused(kwargs: dict, fragment: str) -> None:
    args = {"checkpoints": _epochs(), "weights": [1.0], "prompts": "a cat", "settings": None, "batch_side": 1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        grid_plan(args["checkpoints"], args["weights"], args["prompts"], args["settings"],
                  batch_side=args["batch_side"])


def test_unique_lora_name_changes_with_the_file(tmp_path) -> None:
    import os

    path = tmp_path / "cat_v1-000002.safetensors"
    path.write_bytes(b"one")
    first = unique_lora_name(path)
    assert first.startswith("cat_v1-000002-") and len(first) == len("cat_v1-000002-") + 8
    assert unique_lora_name(path) == first
    path.write_bytes(b"retrained")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    second = unique_lora_name(path)
    assert second != first
    ckpt = epoch_checkpoint(path, 2, lora_name=second)
    plan = grid_plan([ckpt], [1.0], "x", seed=1)
    assert plan.cells[0].request.final_prompt() == f"x <lora:{second}:1>"
    assert plan.cells[0].request.lora.path == str(path)


def test_baseline_column_comes_first_without_a_lora_and_is_rendered_once_per_prompt() -> None:
    plan = grid_plan(_epochs(), [0.6, 1.0], ["a cat", "a dog"], GenerationSettings(width=64, height=64), seed=9,
                     baseline=True)
    assert plan.shape == (3, 2, 2)
    assert plan.x_labels == ["no LoRA", "weight 0.6", "weight 1"]
    first = [c for c in plan.cells if c.x == 0]
    assert len(first) == 4 and all(c.request.lora is None and c.weight == 0.0 and c.baseline for c in first)
    assert first[0].request.final_prompt() == "a cat" and first[0].label == "epoch 1, no LoRA, a cat"
    assert not any(c.baseline for c in plan.cells if c.x > 0)
    # Every row's baseline cell for a prompt is the same request: same prompt, seed and settings.
    assert first[0].request == first[2].request and first[1].request == first[3].request
    assert grid_plan(_epochs(), [1.0], "x", seed=1).x_labels == ["weight 1"]  # off unless asked for
