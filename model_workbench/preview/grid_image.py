"""Assemble rendered cells into a labelled grid like WebUI's X/Y/Z plot, and versions side by side.

Layout (one block per Z prompt, stacked top to bottom so a long prompt title can wrap across
the full width instead of a narrow column):

    [grid title]
    [prompt title of block 1]
                 | weight 0.6 | weight 0.8 | weight 1.0 |
      epoch 1    |   cell     |   cell     |   cell     |
      epoch 2    |   cell     |   cell     |   cell     |
    [prompt title of block 2] ...

Like WebUI's ``draw_grid_annotations`` the font size follows the cell size ((w + h) / 25) and
labels wrap to their column; unlike it, a missing or failed cell is drawn as a marked blank so
an interrupted grid still says exactly what each position is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from . import fonts, messages
from .plan import GridPlan
from .render import DONE, FAILED, CellResult, RenderResult

Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive), grid pixels


@dataclass(frozen=True)
class GridStyle:
    background: tuple[int, int, int] = (255, 255, 255)
    text: tuple[int, int, int] = (0, 0, 0)
    blank: tuple[int, int, int] = (224, 224, 224)
    blank_mark: tuple[int, int, int] = (160, 160, 160)
    margin: int = 8  # around the whole image
    gap: int = 4  # between cells
    font_path: str | None = None
    font_size: int | None = None  # None: (cell width + cell height) // 25, like WebUI


@dataclass
class PlacedCell:
    """Where a cell's tile and each of its images landed in the grid image."""

    result: CellResult
    box: Box
    image_boxes: list[Box]
    group: str = ""  # the version name in a side-by-side comparison


@dataclass
class GridImage:
    image: Image.Image
    placed: list[PlacedCell]
    results: list[RenderResult] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def box_of(self, index: int, group: str = "") -> Box:
        for placed in self.placed:
            if placed.result.cell.index == index and placed.group == group:
                return placed.box
        raise KeyError(index)


def _tile_shape(count: int) -> tuple[int, int]:
    """n images in a square-ish tile: columns, rows (9 → 3×3, 4 → 2×2, 2 → 2×1)."""
    cols = max(1, math.ceil(math.sqrt(count)))
    return cols, max(1, math.ceil(count / cols))


def _image_size(result: RenderResult) -> tuple[int, int]:
    """The slot size of one image: the largest rendered image, or the requested size if none rendered."""
    sizes = [im.size for c in result.cells for im in c.images]
    if sizes:
        return max(w for w, _ in sizes), max(h for _, h in sizes)
    request = result.plan.cells[0].request
    return request.width, request.height


def _text_block_height(font: object, lines: int, spacing: int) -> int:
    return lines * fonts.line_height(font) + max(0, lines - 1) * spacing if lines else 0


def _draw_lines(draw: ImageDraw.ImageDraw, font: object, lines: Sequence[str], box: Box, spacing: int,
                fill: tuple[int, int, int]) -> None:
    """Draw lines centred horizontally and vertically in ``box``."""
    left, top, right, bottom = box
    lh = fonts.line_height(font)
    total = _text_block_height(font, len(lines), spacing)
    y = top + (bottom - top - total) // 2
    for line in lines:
        text = fonts.drawable(font, line)
        width = fonts.text_size(font, text)[0]
        draw.text((left + (right - left - width) // 2, y), text, font=font, fill=fill)
        y += lh + spacing


def _draw_blank(draw: ImageDraw.ImageDraw, font: object, box: Box, status: str, style: GridStyle) -> None:
    left, top, right, bottom = box
    draw.rectangle((left, top, right - 1, bottom - 1), fill=style.blank)
    draw.line((left, top, right - 1, bottom - 1), fill=style.blank_mark, width=2)
    draw.line((left, bottom - 1, right - 1, top), fill=style.blank_mark, width=2)
    word = messages.GRID_FAILED_LABEL if status == FAILED else messages.GRID_MISSING_LABEL
    _draw_lines(draw, font, [word], box, 0, style.text)


@dataclass
class GridLayout:
    """Where everything of a grid goes, computed before any cell is rendered.

    ``bands`` split the image into horizontal strips, each holding one row of cells (the first
    strip also holds the titles and column labels): a strip's pixels are final once its cells
    are, which lets ``grid_writer`` compress the PNG while later rows are still rendering.
    """

    width: int
    height: int
    img_w: int
    img_h: int
    tile_cols: int
    font: object
    spacing: int
    texts: list[tuple[list[str], Box]]
    cell_boxes: dict[int, Box]
    bands: list[tuple[int, int, list[int]]]  # (top, bottom, cell indices)


def compute_layout(plan: GridPlan, image_size: tuple[int, int], per_cell: int = 1,
                   style: GridStyle | None = None) -> GridLayout:
    """Lay out a plan's grid for cells of ``image_size`` with ``per_cell`` images each."""
    style = style or GridStyle()
    if not plan.cells:
        raise ValueError(messages.GRID_NOTHING_TO_DRAW)
    cols, rows, blocks = plan.shape
    img_w, img_h = image_size
    tile_cols, tile_rows = _tile_shape(per_cell)
    cell_w, cell_h = img_w * tile_cols, img_h * tile_rows

    size = style.font_size or max(12, min(64, (img_w + img_h) // 25))
    all_text = [*plan.x_labels, *plan.y_labels, *plan.z_labels, plan.title,
                messages.GRID_MISSING_LABEL, messages.GRID_FAILED_LABEL]
    font = fonts.load_font(size, all_text, style.font_path)
    spacing = max(2, size // 4)
    pad = max(4, size // 2)

    # Row labels: as wide as the widest label needs, but never wider than 3/4 of a cell (WebUI's pad_left).
    natural = max(fonts.text_size(font, label)[0] for label in plan.y_labels) + 2 * pad
    left_w = max(min(natural, cell_w * 3 // 4), size * 3)
    y_wrapped = [fonts.wrap_text(font, label, left_w - 2 * pad) for label in plan.y_labels]
    x_wrapped = [fonts.wrap_text(font, label, cell_w - 2 * pad) for label in plan.x_labels]
    header_h = _text_block_height(font, max(len(lines) for lines in x_wrapped), spacing) + 2 * pad

    grid_w = left_w + cols * cell_w + (cols - 1) * style.gap
    z_wrapped = [fonts.wrap_text(font, label, grid_w - 2 * pad) for label in plan.z_labels]
    z_heights = [_text_block_height(font, len(lines), spacing) + 2 * pad for lines in z_wrapped]
    title_lines = fonts.wrap_text(font, plan.title, grid_w - 2 * pad) if plan.title else []
    title_h = _text_block_height(font, len(title_lines), spacing) + 2 * pad if title_lines else 0
    body_h = header_h + rows * cell_h + (rows - 1) * style.gap
    block_gap = pad * 2
    width = grid_w + 2 * style.margin
    height = 2 * style.margin + title_h + sum(z_heights) + blocks * body_h + (blocks - 1) * block_gap

    texts: list[tuple[list[str], Box]] = []
    x0 = style.margin
    y = style.margin
    if title_lines:
        texts.append((title_lines, (x0, y, x0 + grid_w, y + title_h)))
        y += title_h
    row_tops: list[int] = []  # top of every row of cells, top to bottom
    block_tops: list[int] = []
    for z in range(blocks):
        if plan.z_labels:
            texts.append((z_wrapped[z], (x0, y, x0 + grid_w, y + z_heights[z])))
            y += z_heights[z]
        for x, lines in enumerate(x_wrapped):
            cx = x0 + left_w + x * (cell_w + style.gap)
            texts.append((lines, (cx, y, cx + cell_w, y + header_h)))
        y += header_h
        block_tops.append(y)
        for r, lines in enumerate(y_wrapped):
            ry = y + r * (cell_h + style.gap)
            texts.append((lines, (x0, ry, x0 + left_w, ry + cell_h)))
            row_tops.append(ry)
        y += rows * cell_h + (rows - 1) * style.gap + block_gap

    cell_boxes: dict[int, Box] = {}
    for cell in plan.cells:
        left = x0 + left_w + cell.x * (cell_w + style.gap)
        top = block_tops[cell.z] + cell.y * (cell_h + style.gap)
        cell_boxes[cell.index] = (left, top, left + cell_w, top + cell_h)

    # Band i runs from row i's top (0 for the first) to row i+1's top (the image bottom for the last).
    edges = [0, *row_tops[1:], height]
    bands = []
    for i, top in enumerate(row_tops):
        members = [idx for idx, box in cell_boxes.items() if box[1] == top]
        bands.append((edges[i], edges[i + 1], members))
    return GridLayout(width=width, height=height, img_w=img_w, img_h=img_h, tile_cols=tile_cols, font=font,
                      spacing=spacing, texts=texts, cell_boxes=cell_boxes, bands=bands)


def draw_frame(layout: GridLayout, style: GridStyle | None = None) -> Image.Image:
    """A blank grid canvas with every title and label drawn; cells are pasted on it afterwards."""
    style = style or GridStyle()
    canvas = Image.new("RGB", (layout.width, layout.height), style.background)
    draw = ImageDraw.Draw(canvas)
    for lines, box in layout.texts:
        _draw_lines(draw, layout.font, lines, box, layout.spacing, style.text)
    return canvas


def paste_cell(canvas: Image.Image, layout: GridLayout, cell_result: CellResult,
               style: GridStyle | None = None) -> PlacedCell:
    """Put a cell's images (tiled n×n) in its box, or a marked blank when it is missing or failed."""
    style = style or GridStyle()
    box = layout.cell_boxes[cell_result.cell.index]
    left, top = box[0], box[1]
    image_boxes: list[Box] = []
    if cell_result.status == DONE:
        for i, im in enumerate(cell_result.images):
            slot_l = left + (i % layout.tile_cols) * layout.img_w
            slot_t = top + (i // layout.tile_cols) * layout.img_h
            # Centre smaller images in their slot, as images.image_grid does.
            px, py = slot_l + (layout.img_w - im.width) // 2, slot_t + (layout.img_h - im.height) // 2
            canvas.paste(im if im.mode == "RGB" else im.convert("RGB"), (px, py))
            image_boxes.append((px, py, px + im.width, py + im.height))
    else:
        _draw_blank(ImageDraw.Draw(canvas), layout.font, box, cell_result.status, style)
    return PlacedCell(result=cell_result, box=box, image_boxes=image_boxes)


def build_grid(result: RenderResult, style: GridStyle | None = None) -> GridImage:
    """Draw the labelled grid of a (possibly interrupted) render."""
    style = style or GridStyle()
    if not result.cells:
        raise ValueError(messages.GRID_NOTHING_TO_DRAW)
    per_cell = max(c.cell.request.image_count for c in result.cells)
    layout = compute_layout(result.plan, _image_size(result), per_cell, style)
    canvas = draw_frame(layout, style)
    placed = [paste_cell(canvas, layout, cell_result, style) for cell_result in result.cells]
    return GridImage(image=canvas, placed=placed, results=[result])


def build_comparison(blocks: Sequence[tuple[str, GridImage]], style: GridStyle | None = None) -> GridImage:
    """Several versions' grids side by side, each under its version name, tops aligned."""
    style = style or GridStyle()
    if not blocks:
        raise ValueError(messages.COMPARE_NOTHING)
    names = [name for name, _ in blocks]
    first = blocks[0][1].placed[0].box if blocks[0][1].placed else (0, 0, 512, 512)
    size = style.font_size or max(12, min(64, (first[2] - first[0] + first[3] - first[1]) // 25))
    font = fonts.load_font(size, names, style.font_path)
    spacing, pad = max(2, size // 4), max(4, size // 2)
    wrapped = [fonts.wrap_text(font, name, grid.image.width - 2 * pad) for name, grid in blocks]
    name_h = max(_text_block_height(font, len(lines), spacing) for lines in wrapped) + 2 * pad
    width = sum(grid.image.width for _, grid in blocks) + style.gap * (len(blocks) - 1)
    height = name_h + max(grid.image.height for _, grid in blocks)

    canvas = Image.new("RGB", (width, height), style.background)
    draw = ImageDraw.Draw(canvas)
    placed: list[PlacedCell] = []
    results: list[RenderResult] = []
    left = 0
    for (name, grid), lines in zip(blocks, wrapped, strict=True):
        _draw_lines(draw, font, lines, (left, 0, left + grid.image.width, name_h), spacing, style.text)
        canvas.paste(grid.image, (left, name_h))
        if left:  # a thin rule between versions so the blocks read as separate columns
            rule_x = left - (style.gap + 1) // 2
            draw.line((rule_x, 0, rule_x, height), fill=style.blank_mark, width=1)
        for p in grid.placed:
            placed.append(
                PlacedCell(
                    result=p.result,
                    box=_shift(p.box, left, name_h),
                    image_boxes=[_shift(b, left, name_h) for b in p.image_boxes],
                    group=name,
                )
            )
        results.append(grid.results[0])  # one render per version block
        left += grid.image.width + style.gap
    return GridImage(image=canvas, placed=placed, results=results, groups=names)


def _shift(box: Box, dx: int, dy: int) -> Box:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
