"""Compare: render the same prompt, seed and weights for several versions, one progress bar, one image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import messages
from .grid_image import GridStyle, build_comparison, build_grid
from .plan import GridPlan
from .render import ProgressCallback, RenderCell, RenderResult, StopSignal, render_plan, stop_checker
from .save import SavedGrid, save_grid


def render_comparison(plans: Sequence[tuple[str, GridPlan]], render_cell: RenderCell, directory: str | Path,
                      basename: str = "compare", *, progress: ProgressCallback | None = None,
                      stop: StopSignal = None, continue_on_error: bool = False,
                      style: GridStyle | None = None) -> tuple[list[RenderResult], SavedGrid]:
    """Render each version's plan in turn and save them side by side (PNG + manifest).

    Progress counts cells across all versions, labelled ``<version>: <cell>``. Stopping or a
    failure keeps what was rendered; the versions not reached are drawn as missing cells.
    """
    if not plans:
        raise ValueError(messages.COMPARE_NOTHING)
    should_stop = stop_checker(stop)
    total = sum(plan.total for _, plan in plans)
    offset = 0
    halted = False
    results: list[RenderResult] = []
    for name, plan in plans:

        def version_progress(done: int, _total: int, label: str, _offset: int = offset, _name: str = name) -> None:
            if progress is not None and label:  # the per-version "finished" call is folded into ours
                progress(_offset + done, total, f"{_name}: {label}")

        result = render_plan(plan, render_cell, progress=version_progress,
                             stop=(lambda: True) if halted else should_stop, continue_on_error=continue_on_error)
        if halted:
            result.interrupted = False
            result.error = messages.COMPARE_SKIPPED.format(version=name)
        elif result.interrupted or (result.error and not continue_on_error):
            halted = True
        results.append(result)
        offset += plan.total
    if progress is not None:
        progress(sum(r.done_count for r in results), total, "")
    blocks = [(name, build_grid(result, style)) for (name, _), result in zip(plans, results, strict=True)]
    return results, save_grid(build_comparison(blocks, style), directory, basename)
