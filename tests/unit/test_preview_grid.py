"""Grid images: layout, labels, blank missing cells, PNG infotext, the manifest, CJK text, comparisons."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from PIL import Image, ImageFont

from model_workbench.preview import fonts
from model_workbench.preview.grid_image import GridStyle, build_comparison, build_grid
from model_workbench.preview.manifest import MANIFEST_FORMAT, read_manifest
from model_workbench.preview.plan import GenerationSettings, comparison_plans, epoch_checkpoint, grid_plan
from model_workbench.preview.render import render_plan
from model_workbench.preview.save import MANIFEST_KEY, PNGINFO_KEY, save_grid
from tests.support.preview import ColourRenderer, cell_key

W, H = 48, 40


def _epochs():
    return [epoch_checkpoint(f"/p/cat_v1-{e:06d}.safetensors", e) for e in (1, 2)]


def _plan(prompts=("a cat",), batch_side=1):
    return grid_plan(_epochs(), [0.6, 0.8, 1.0], list(prompts), GenerationSettings(width=W, height=H),
                     seed=3, batch_side=batch_side)


def _colours_in(image: Image.Image, box) -> set:
    return {c for _, c in image.crop(tuple(box)).getcolors(maxcolors=100000)}


def _has_ink(image: Image.Image, box) -> bool:
    """Whether a region holds dark (text) pixels."""
    region = image.crop(tuple(box)).convert("L")
    return region.getextrema()[0] < 100


def test_full_grid_boxes_hold_each_cells_colour_and_labels(tmp_path: Path) -> None:
    renderer = ColourRenderer()
    result = render_plan(_plan(), renderer)
    grid = build_grid(result)
    saved = save_grid(grid, tmp_path / "grids", "cat v1/grid")  # a separator in the name is neutralised

    assert saved.png_path.parent == tmp_path / "grids"
    assert saved.png_path.name == "cat v1_grid.png" and saved.manifest_path.name == "cat v1_grid.json"
    image = Image.open(saved.png_path)
    manifest = read_manifest(saved.manifest_path)
    assert manifest["format"] == MANIFEST_FORMAT and manifest["image"] == saved.png_path.name
    assert (manifest["width"], manifest["height"]) == image.size
    assert manifest["complete"] and manifest["missing"] == []
    assert manifest["axes"]["x"]["labels"] == ["weight 0.6", "weight 0.8", "weight 1"]
    assert manifest["axes"]["y"]["labels"] == ["epoch 1", "epoch 2"]
    assert len(manifest["cells"]) == 6

    # The image is at least the 3 × 2 cells plus room for labels on top and on the left.
    assert image.width > 3 * W and image.height > 2 * H
    rgb = image.convert("RGB")
    for entry in manifest["cells"]:
        left, top, right, bottom = entry["box"]
        assert (right - left, bottom - top) == (W, H)
        expected = renderer.colours[(entry["checkpoint"]["lora_name"], entry["weight"], entry["prompt"])]
        assert _colours_in(rgb, entry["box"]) == {expected}
        assert entry["status"] == "done" and entry["seed"] == 3
        assert entry["request"]["final_prompt"].endswith(f"<lora:{entry['checkpoint']['lora_name']}:"
                                                         f"{entry['x_label'].split()[-1]}>")
        assert entry["checkpoint"]["path"].endswith(".safetensors")
        assert entry["infotext"].startswith(entry["request"]["final_prompt"])

    # Column labels above the first row, row labels left of the first column.
    cells = {(e["x"], e["y"]): e["box"] for e in manifest["cells"]}
    for x in range(3):
        left, top, right, _ = cells[(x, 0)]
        assert _has_ink(rgb, (left, 0, right, top))
    for y in range(2):
        left, top, _, bottom = cells[(0, y)]
        assert _has_ink(rgb, (0, top, left, bottom))
    # Cells do not overlap.
    for a, b in itertools.combinations(cells.values(), 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_png_carries_webui_infotext_and_manifest_name(tmp_path: Path) -> None:
    result = render_plan(_plan(), ColourRenderer())
    saved = save_grid(build_grid(result), tmp_path)
    with Image.open(saved.png_path) as image:
        info = image.info
    assert info[PNGINFO_KEY] == result.cells[0].infotext
    assert info[MANIFEST_KEY] == saved.manifest_path.name
    # A second save never overwrites the first.
    again = save_grid(build_grid(result), tmp_path)
    assert again.png_path.name == "grid-1.png" and saved.png_path.exists()


def test_interrupted_grid_keeps_cells_and_marks_missing(tmp_path: Path) -> None:
    renderer = ColourRenderer()
    done: list[int] = []
    result = render_plan(_plan(), renderer, stop=lambda: len(done) >= 2, on_cell=lambda r: done.append(1))
    saved = save_grid(build_grid(result), tmp_path)
    manifest = json.loads(saved.manifest_path.read_text(encoding="utf-8"))
    assert not manifest["complete"] and manifest["interrupted"]
    assert manifest["missing"] == [2, 3, 4, 5]
    assert "2 of 6" in manifest["message"]
    image = Image.open(saved.png_path).convert("RGB")
    style = GridStyle()
    for entry in manifest["cells"]:
        colours = _colours_in(image, entry["box"])
        if entry["index"] < 2:
            assert entry["status"] == "done" and len(colours) == 1
        else:
            # Blank fill, the cross and the word "missing": none of the renderer's colours.
            assert entry["status"] == "missing" and entry["image_boxes"] == []
            assert style.blank in colours and not colours & set(renderer.colours.values())
            assert _has_ink(image, entry["box"])


def test_nothing_rendered_still_gives_a_labelled_blank_grid(tmp_path: Path) -> None:
    result = render_plan(_plan(), ColourRenderer(), stop=lambda: True)
    saved = save_grid(build_grid(result), tmp_path)
    manifest = read_manifest(saved.manifest_path)
    assert manifest["missing"] == list(range(6))
    with Image.open(saved.png_path) as image:
        assert image.info[PNGINFO_KEY].startswith("a cat <lora:cat_v1-000001:0.6>")


def test_prompts_as_z_make_one_titled_sub_grid_each() -> None:
    renderer = ColourRenderer()
    result = render_plan(_plan(prompts=("a cat", "a dog on a mat")), renderer)
    grid = build_grid(result)
    assert len(grid.placed) == 12
    z0 = [p.box for p in grid.placed if p.result.cell.z == 0]
    z1 = [p.box for p in grid.placed if p.result.cell.z == 1]
    assert max(b[3] for b in z0) < min(b[1] for b in z1)  # sub-grid 2 is below sub-grid 1
    # A title band with text sits between the two sub-grids.
    gap_top, gap_bottom = max(b[3] for b in z0), min(b[1] for b in z1)
    assert _has_ink(grid.image, (0, gap_top, grid.image.width, gap_bottom))
    for placed in grid.placed:
        assert _colours_in(grid.image, placed.box) == {renderer.colours[cell_key(placed.result.cell.request)]}


def test_batch_cells_are_tiled_n_by_n() -> None:
    renderer = ColourRenderer()
    result = render_plan(_plan(batch_side=2), renderer)
    grid = build_grid(result)
    first = grid.placed[0]
    assert (first.box[2] - first.box[0], first.box[3] - first.box[1]) == (2 * W, 2 * H)
    assert len(first.image_boxes) == 4
    assert len({b[:2] for b in first.image_boxes}) == 4


def test_long_and_cjk_labels_wrap_without_crashing(tmp_path: Path) -> None:
    long_prompt = "一只可爱的猫坐在窗台上，阳光明媚 " * 6 + "with a very long English tail that must wrap"
    epochs = [epoch_checkpoint("/p/猫_第一版-000001.safetensors", 1)]
    plan = grid_plan(epochs, [0.5, 1.0], [long_prompt, "第二个提示词"], GenerationSettings(width=W, height=H), seed=1)
    result = render_plan(plan, ColourRenderer())
    grid = build_grid(result)
    # Wrapped text never widens the grid beyond its cells and row labels.
    assert grid.image.width <= 2 * GridStyle().margin + W + 2 * W + GridStyle().gap + 3 * 64
    saved = save_grid(grid, tmp_path, "猫 grid")
    assert saved.png_path.name == "猫 grid.png"
    with Image.open(saved.png_path) as image:
        assert "一只可爱的猫" in image.info[PNGINFO_KEY]  # stored as UTF-8 iTXt


def test_without_truetype_fonts_labels_still_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "candidate_font_files", lambda: ())
    font = fonts.load_font(20, ["猫"])  # Pillow's built-in font: bitmap on 9.5, scalable on >= 10.1
    result = render_plan(grid_plan(_epochs(), [1.0], ["猫 prompt"], GenerationSettings(width=W, height=H), seed=1),
                         ColourRenderer())
    assert build_grid(result).image.width > W
    assert fonts.text_size(font, "epoch 1")[0] > 0


def test_bitmap_font_gets_only_what_it_can_encode() -> None:
    # Pillow 9.5's default font is this bitmap font; it raises UnicodeEncodeError beyond Latin-1.
    bitmap = getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)()
    assert not isinstance(bitmap, ImageFont.FreeTypeFont)
    assert fonts.drawable(bitmap, "猫 épée") == "? épée"
    assert not fonts.font_supports(bitmap, "猫") and fonts.font_supports(bitmap, "épée")
    lines = fonts.wrap_text(bitmap, "猫猫猫 abc", 30)
    assert lines and all(fonts.text_size(bitmap, line)[0] <= 30 or len(line) == 1 for line in lines)


def test_font_support_check_and_wrapping() -> None:
    font = fonts.load_font(16, ["abc"])
    assert fonts.wrap_text(font, "", 100) == [""]
    assert fonts.wrap_text(font, "one two three four five six", 60) == fonts.wrap_text(
        font, "one two three four five six", 60)
    for line in fonts.wrap_text(font, "one two three four five six seven", 60):
        assert fonts.text_size(font, line)[0] <= 60
    assert fonts.wrap_text(font, "a\nb", 100) == ["a", "b"]
    if isinstance(font, ImageFont.FreeTypeFont):
        assert fonts.font_supports(font, "abc")
        assert not fonts.font_supports(font, "\U0010fffd")


def test_comparison_puts_versions_side_by_side(tmp_path: Path) -> None:
    versions = [("v1", epoch_checkpoint("/p/cat_v1-000004.safetensors", 4)),
                ("v2 第二版", epoch_checkpoint("/p/cat_v2-000004.safetensors", 4))]
    renderer = ColourRenderer()
    blocks = []
    for name, plan in comparison_plans(versions, [0.6, 1.0], "a cat",
                                       GenerationSettings(width=W, height=H), seed=8):
        blocks.append((name, build_grid(render_plan(plan, renderer))))
    compare = build_comparison(blocks)
    assert compare.image.width >= sum(g.image.width for _, g in blocks)
    assert compare.groups == ["v1", "v2 第二版"]
    v1 = [p for p in compare.placed if p.group == "v1"]
    v2 = [p for p in compare.placed if p.group == "v2 第二版"]
    assert max(p.box[2] for p in v1) <= min(p.box[0] for p in v2)
    assert {p.box[1] for p in v1} == {p.box[1] for p in v2}  # rows line up across versions
    for placed in compare.placed:
        assert _colours_in(compare.image, placed.box) == {renderer.colours[cell_key(placed.result.cell.request)]}
    # Names sit above each block.
    assert _has_ink(compare.image, (0, 0, blocks[0][1].image.width, min(p.box[1] for p in v1)))
    saved = save_grid(compare, tmp_path, "compare")
    manifest = read_manifest(saved.manifest_path)
    assert [v["name"] for v in manifest["versions"]] == ["v1", "v2 第二版"]
    assert {c["version"] for c in manifest["cells"]} == {"v1", "v2 第二版"}
    assert len({c["seed"] for c in manifest["cells"]}) == 1
    assert compare.box_of(0, "v2 第二版") == v2[0].box


def test_cjk_labels_pick_a_font_that_has_the_glyphs() -> None:
    candidates = [ImageFont.truetype(p, 16) for p in fonts.candidate_font_files()]
    latin_only = [f for f in candidates if not fonts.font_supports(f, "猫")]
    for font in latin_only:  # e.g. DejaVu Sans: its "猫" is the missing-glyph box
        assert fonts.font_supports(font, "cat épée")
    if not any(fonts.font_supports(f, "猫") for f in candidates):
        pytest.skip("no CJK font installed here (install fonts-noto-cjk or fonts-wqy-microhei)")
    chosen = fonts.load_font(16, ["epoch 1", "一只猫"])
    assert fonts.font_supports(chosen, "一只猫")
