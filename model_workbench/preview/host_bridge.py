"""Connect the preview core to a ``Host``: a cell renderer from ``host.generate`` and progress in its terms.

The core speaks ``CellRequest`` and ``(done, total, label)``; the Host protocol speaks
``GenerationRequest`` (the LoRA as an ``ExtraNetwork`` the host writes into the prompt) and
``ProgressUpdate``. These two small adapters are all the UI needs to run a grid on any host.
"""

from __future__ import annotations

from pathlib import Path

from ..host import ExtraNetwork, GenerationRequest, Host, ProgressUpdate, StopFlag
from ..host import ProgressCallback as HostProgress
from .render import ProgressCallback, RenderCell, RenderOutput
from .requests import CellRequest


def generation_request(request: CellRequest) -> GenerationRequest:
    """The host's request for a cell: the prompt without the tag, the LoRA as an extra network."""
    networks = ()
    if request.lora is not None:
        path = Path(request.lora.path) if request.lora.path else None
        networks = (ExtraNetwork(name=request.lora.name, weight=request.lora.weight, kind=request.lora.kind,
                                 path=path),)
    return GenerationRequest(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        seed=request.seed,
        steps=request.steps,
        sampler_name=request.sampler_name,
        cfg_scale=request.cfg_scale,
        width=request.width,
        height=request.height,
        batch_size=request.batch_size,
        n_iter=request.n_iter,
        extra_networks=networks,
    )


def host_cell_renderer(host: Host, stop: StopFlag | None = None) -> RenderCell:
    """``render_cell`` for ``render_plan``: each cell through ``host.generate`` with the shared stop flag."""

    def render_cell(request: CellRequest) -> RenderOutput:
        result = host.generate(generation_request(request), None, stop)
        return list(result.images), list(result.infotexts)

    return render_cell


def cell_progress(report: HostProgress) -> ProgressCallback:
    """Turn the core's ``(done, total, label)`` calls into the host's ``ProgressUpdate`` reports."""

    def progress(done: int, total: int, label: str) -> None:
        report(ProgressUpdate(done=done, total=total, text=label))

    return progress
