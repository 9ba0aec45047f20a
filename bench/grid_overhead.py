"""Overhead of a preview grid: its wall time against the sum of its cells' generation times.

A fake renderer stands in for WebUI's txt2img: it sleeps a fixed time (the sampler) and builds a
photo-like image with numpy (smooth colour fields plus grain, so PNG compression costs what it
would on a real picture); that is the generation time. Everything the grid adds on top (the
plan, per-cell bookkeeping, progress callbacks, drawing the labelled grid, writing the PNG and
the manifest, until both are on disk) is overhead. The baseline measured in the same run is the
plain way: draw and save the grid after the last cell.

    python bench/grid_overhead.py            # 3 × 4 grid of 512×512 cells, 50 ms a cell
    python bench/grid_overhead.py --full     # 6 × 8 grid, two prompts, 768×768 cells

The last line is ``grid_overhead: <wall / generation> (goal <= 1.05)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from model_workbench.preview.grid_image import build_grid  # noqa: E402
from model_workbench.preview.grid_writer import GridWriter  # noqa: E402
from model_workbench.preview.plan import GenerationSettings, epoch_checkpoint, grid_plan  # noqa: E402
from model_workbench.preview.render import render_plan  # noqa: E402
from model_workbench.preview.requests import CellRequest, format_infotext  # noqa: E402
from model_workbench.preview.save import save_grid  # noqa: E402

GOAL = 1.05


class FakeSampler:
    """Sleeps like a sampler, then paints a deterministic photo-like image for the request."""

    def __init__(self, cell_seconds: float) -> None:
        self.cell_seconds = cell_seconds

    def __call__(self, request: CellRequest):
        time.sleep(self.cell_seconds)
        rng = np.random.default_rng(abs(hash((request.final_prompt(), request.seed))) % 2**32)
        h, w = request.height, request.width
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        phase = rng.uniform(0, 6.28, size=3)
        freq = rng.uniform(0.005, 0.03, size=3)
        base = np.stack([127 + 100 * np.sin(freq[c] * xx + freq[(c + 1) % 3] * yy + phase[c]) for c in range(3)], -1)
        grain = rng.normal(0, 6, size=(h, w, 3))
        pixels = np.clip(base + grain, 0, 255).astype(np.uint8)
        images = [Image.fromarray(np.roll(pixels, 7 * i, axis=1), "RGB") for i in range(request.image_count)]
        return images, format_infotext(request)


def run(rows: int, cols: int, prompts: int, size: int, cell_ms: float, out_dir: Path, streaming: bool) -> dict:
    """One grid from plan to files on disk; ``streaming`` uses GridWriter, else build_grid + save_grid after."""
    checkpoints = [epoch_checkpoint(out_dir / f"bench_v1-{e:06d}.safetensors", e) for e in range(1, rows + 1)]
    weights = [round(0.2 + i * 0.8 / max(1, cols - 1), 3) for i in range(cols)]
    prompt_list = [f"a photo of sks cat, variant {i}" for i in range(prompts)]
    sampler = FakeSampler(cell_ms / 1000.0)

    started = time.perf_counter()
    plan = grid_plan(checkpoints, weights, prompt_list, GenerationSettings(width=size, height=size), seed=1234)
    writer = GridWriter(plan, out_dir, "bench-grid") if streaming else None
    result = render_plan(plan, sampler, progress=lambda done, total, label: None,
                         on_cell=writer.add if writer else None)
    rendered = time.perf_counter()
    saved = writer.finish(result) if writer else save_grid(build_grid(result), out_dir, "bench-grid")
    finished = time.perf_counter()

    generation = result.generation_seconds
    return {
        "cells": plan.total,
        "generation_s": generation,
        "wall_s": finished - started,
        "loop_s": (rendered - started) - generation,
        "after_s": finished - rendered,
        "grid_px": saved.image.size,
        "png_bytes": saved.png_path.stat().st_size,
        "fallback": bool(writer and writer.fallback),
        "ratio": (finished - started) / generation,
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3, help="checkpoints (epochs), default 3")
    parser.add_argument("--cols", type=int, default=4, help="LoRA weights, default 4")
    parser.add_argument("--prompts", type=int, default=1, help="prompts (sub-grids), default 1")
    parser.add_argument("--size", type=int, default=512, help="cell width and height in pixels, default 512")
    parser.add_argument("--cell-ms", type=float, default=50.0, help="simulated sampler time per cell, default 50")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median ratio is reported, default 3")
    parser.add_argument("--full", action="store_true", help="6 × 8 grid, 2 prompts, 768 px cells")
    args = parser.parse_args(argv)
    if args.full:
        args.rows, args.cols, args.prompts, args.size = 6, 8, 2, 768

    ratios: dict[str, list[float]] = {"after": [], "streaming": []}
    per_cell: dict[str, list[float]] = {"after": [], "streaming": []}
    with tempfile.TemporaryDirectory(prefix="grid-overhead-") as tmp:
        for i in range(args.repeat):
            # Both ways in the same run, alternating, so machine noise hits them alike.
            for mode in ("after", "streaming"):
                stats = run(args.rows, args.cols, args.prompts, args.size, args.cell_ms,
                            Path(tmp) / f"{mode}-{i}", streaming=mode == "streaming")
                ratios[mode].append(stats["ratio"])
                per_cell[mode].append(stats["generation_s"] / stats["cells"])
                print(
                    f"run {i + 1} {mode:>9}: {stats['cells']} cells, generation {stats['generation_s']:.3f} s, "
                    f"wall {stats['wall_s']:.3f} s (render loop +{stats['loop_s'] * 1000:.1f} ms, "
                    f"after last cell +{stats['after_s'] * 1000:.1f} ms; grid {stats['grid_px'][0]}x"
                    f"{stats['grid_px'][1]}, PNG {stats['png_bytes'] / 1e6:.2f} MB"
                    f"{', FELL BACK' if stats['fallback'] else ''}), ratio {stats['ratio']:.3f}"
                )
    print(f"grid {args.rows} x {args.cols} x {args.prompts} prompt(s), {args.size}px cells, "
          f"{args.cell_ms:g} ms sampler per cell, {os.cpu_count()} CPUs; median of {args.repeat} runs")
    # Encoding in the background shares the CPUs with the fake sampler's numpy work; say how much.
    print(f"generation per cell: {_median(per_cell['after']) * 1000:.1f} ms plain, "
          f"{_median(per_cell['streaming']) * 1000:.1f} ms while the grid encodes in the background")
    print(f"draw + save after the last cell (build_grid + save_grid): ratio {_median(ratios['after']):.3f}")
    print(f"grid_overhead: {_median(ratios['streaming']):.3f} (goal <= {GOAL})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
