"""Fake renderers for the preview tests: each cell is a flat square of its own colour."""

from __future__ import annotations

import threading

from PIL import Image

from model_workbench.preview.requests import CellRequest


def cell_key(request: CellRequest) -> tuple[str, float, str]:
    return (request.lora.name if request.lora else "", request.lora.weight if request.lora else 0.0, request.prompt)


class ColourRenderer:
    """Gives each distinct (LoRA, weight, prompt) a distinct flat colour and remembers it.

    ``stop_after`` sets ``stop_event`` once that many cells have been rendered, the way a user
    pressing Interrupt between two cells would.
    """

    def __init__(self, stop_after: int | None = None, fail_at: int | None = None) -> None:
        self.colours: dict[tuple[str, float, str], tuple[int, int, int]] = {}
        self.requests: list[CellRequest] = []
        self.stop_event = threading.Event()
        self.stop_after = stop_after
        self.fail_at = fail_at

    def colour_for(self, request: CellRequest) -> tuple[int, int, int]:
        key = cell_key(request)
        if key not in self.colours:
            n = len(self.colours) + 1
            # Well-separated channels so no two cells share a colour and none is white/black.
            self.colours[key] = (40 + (n * 53) % 180, 40 + (n * 97) % 180, 40 + (n * 31) % 180)
        return self.colours[key]

    def __call__(self, request: CellRequest):
        if self.fail_at is not None and len(self.requests) == self.fail_at:
            self.requests.append(request)
            raise RuntimeError("CUDA out of memory")
        self.requests.append(request)
        colour = self.colour_for(request)
        images = [Image.new("RGB", (request.width, request.height), colour) for _ in range(request.image_count)]
        infotexts = [f"{request.final_prompt()}\nSteps: {request.steps}, Seed: {s}" for s in request.image_seeds()]
        if self.stop_after is not None and len(self.requests) >= self.stop_after:
            self.stop_event.set()
        return (images[0] if len(images) == 1 else images), infotexts
