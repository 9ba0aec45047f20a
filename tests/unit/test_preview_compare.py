"""Comparing versions: one progress bar across versions, one side-by-side image, stops keep what was done."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from model_workbench.preview.compare import render_comparison
from model_workbench.preview.manifest import read_manifest
from model_workbench.preview.plan import GenerationSettings, comparison_plans, epoch_checkpoint
from tests.support.preview import ColourRenderer, cell_key


def _plans():
    versions = [(name, epoch_checkpoint(f"/p/cat_{name}-000003.safetensors", 3)) for name in ("v1", "v2", "v3")]
    return comparison_plans(versions, [0.6, 1.0], "a cat", GenerationSettings(width=40, height=32), seed=6)


def test_three_versions_side_by_side_with_one_progress_bar(tmp_path: Path) -> None:
    renderer = ColourRenderer()
    calls: list[tuple[int, int, str]] = []
    results, saved = render_comparison(_plans(), renderer, tmp_path, progress=lambda d, t, s: calls.append((d, t, s)))
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4, 5, 6]
    assert {c[1] for c in calls} == {6}
    assert calls[2][2] == "v2: epoch 3, weight 0.6" and calls[-1][2] == ""
    assert all(r.complete for r in results)
    manifest = read_manifest(saved.manifest_path)
    assert [v["name"] for v in manifest["versions"]] == ["v1", "v2", "v3"]
    assert len({c["seed"] for c in manifest["cells"]}) == 1
    image = Image.open(saved.png_path).convert("RGB")
    lefts = {}
    for entry in manifest["cells"]:
        colours = {c for _, c in image.crop(tuple(entry["box"])).getcolors(100000)}
        key = (entry["checkpoint"]["lora_name"], entry["weight"], entry["prompt"])
        assert colours == {renderer.colours[key]}
        lefts.setdefault(entry["version"], entry["box"][0])
    assert lefts["v1"] < lefts["v2"] < lefts["v3"]
    assert cell_key(renderer.requests[0])[0] == "cat_v1-000003"


def test_a_stop_keeps_rendered_cells_and_skips_the_rest(tmp_path: Path) -> None:
    renderer = ColourRenderer()
    results, saved = render_comparison(_plans(), renderer, tmp_path, stop=lambda: len(renderer.requests) >= 3)
    assert [r.done_count for r in results] == [2, 0, 0]  # the third render was dropped mid-cell
    assert results[1].interrupted and "not rendered" in results[2].error
    manifest = read_manifest(saved.manifest_path)
    assert len(manifest["missing"]) == 4 and {"version": "v3", "index": 1} in manifest["missing"]


def test_a_failure_halts_later_versions_unless_told_to_go_on(tmp_path: Path) -> None:
    results, _ = render_comparison(_plans(), ColourRenderer(fail_at=1), tmp_path / "a")
    assert [r.done_count for r in results] == [1, 0, 0] and "out of memory" in results[0].error
    results, _ = render_comparison(_plans(), ColourRenderer(fail_at=1), tmp_path / "b", continue_on_error=True)
    assert [r.done_count for r in results] == [1, 2, 2]


def test_nothing_to_compare_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no versions"):
        render_comparison([], ColourRenderer(), tmp_path)
