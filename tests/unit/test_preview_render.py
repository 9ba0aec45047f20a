"""Rendering a plan: progress per cell, interruption that keeps finished cells, failures, timing."""

from __future__ import annotations

import threading

from PIL import Image

from model_workbench.preview.plan import GenerationSettings, epoch_checkpoint, grid_plan
from model_workbench.preview.render import DONE, FAILED, MISSING, render_plan
from model_workbench.preview.requests import format_infotext
from tests.support.preview import ColourRenderer


def _plan(prompts=("a cat",)):
    epochs = [epoch_checkpoint(f"/p/cat_v1-{e:06d}.safetensors", e) for e in (1, 2)]
    return grid_plan(epochs, [0.6, 0.8, 1.0], list(prompts), GenerationSettings(width=32, height=24), seed=11)


def test_renders_every_cell_in_order_with_progress() -> None:
    plan = _plan()
    renderer = ColourRenderer()
    calls: list[tuple[int, int, str]] = []
    seen: list[int] = []
    result = render_plan(plan, renderer, progress=lambda d, t, label: calls.append((d, t, label)),
                         on_cell=lambda r: seen.append(r.cell.index))
    assert result.complete and not result.interrupted and result.message() == ""
    assert [r.request for r in [c.cell for c in result.cells]] == renderer.requests
    assert calls[:2] == [(0, 6, "epoch 1, weight 0.6"), (1, 6, "epoch 1, weight 0.8")]
    assert calls[-1] == (6, 6, "")
    assert len(calls) == 7
    assert seen == list(range(6))
    assert all(c.status == DONE and c.images[0].size == (32, 24) for c in result.cells)
    assert result.cells[0].infotext.startswith("a cat <lora:cat_v1-000001:0.6>")
    assert result.generation_seconds <= result.wall_seconds


def test_interrupt_between_cells_keeps_finished_cells() -> None:
    plan = _plan()
    renderer = ColourRenderer()
    finished: list[int] = []
    result = render_plan(plan, renderer, stop=lambda: len(finished) >= 4, on_cell=lambda r: finished.append(1))
    assert result.interrupted
    assert [c.status for c in result.cells] == [DONE] * 4 + [MISSING] * 2
    assert len(renderer.requests) == 4
    assert "4 of 6" in result.message()


def test_interrupt_during_a_cell_drops_that_cell() -> None:
    # The event is set while the third cell renders: its half-finished image must not be kept.
    plan = _plan()
    renderer = ColourRenderer(stop_after=3)
    result = render_plan(plan, renderer, stop=renderer.stop_event)
    assert result.interrupted
    assert [c.status for c in result.cells] == [DONE, DONE, MISSING, MISSING, MISSING, MISSING]
    assert result.cells[2].images == []


def test_stop_before_start_renders_nothing() -> None:
    event = threading.Event()
    event.set()
    renderer = ColourRenderer()
    result = render_plan(_plan(), renderer, stop=event)
    assert result.interrupted and result.done_count == 0 and renderer.requests == []


def test_failure_stops_and_keeps_finished_cells() -> None:
    renderer = ColourRenderer(fail_at=2)
    result = render_plan(_plan(), renderer)
    assert [c.status for c in result.cells] == [DONE, DONE, FAILED, MISSING, MISSING, MISSING]
    assert "epoch 1, weight 1" in result.error and "CUDA out of memory" in result.error
    assert result.message() == result.error


def test_failure_can_be_skipped() -> None:
    renderer = ColourRenderer(fail_at=2)
    result = render_plan(_plan(), renderer, continue_on_error=True)
    assert [c.status for c in result.cells].count(DONE) == 5
    assert result.cells[2].status == FAILED and result.cells[2].error


def test_renderer_outputs_are_normalised() -> None:
    plan = _plan()
    image = Image.new("RGB", (32, 24), "red")
    outputs = iter([(image, None), ([image, image], "info"), ([image], ["a", "b"]), ("oops", "x"), None])
    result = render_plan(plan, lambda req: next(outputs), continue_on_error=True)
    assert result.cells[0].infotexts == [format_infotext(plan.cells[0].request)]
    assert result.cells[1].infotexts == ["info"]
    assert result.cells[1].images == [image]  # one image was asked for: the extra one is dropped
    assert result.cells[2].infotexts == ["a"]
    assert result.cells[3].status == FAILED and "no image" in result.cells[3].error
    assert result.cells[4].status == FAILED


def test_each_cell_is_timed_with_the_clock() -> None:
    ticks = iter(range(100))
    result = render_plan(_plan(), ColourRenderer(), clock=lambda: float(next(ticks)))
    assert all(c.seconds == 1.0 for c in result.cells)
    assert result.generation_seconds == 6.0
    assert result.wall_seconds > result.generation_seconds
