"""WebUI 1.10.1's embedding and hypernetwork trainers on a newer torch.

WebUI's ``GroupedBatchSampler`` (modules/textual_inversion/dataset.py) calls
``torch.utils.data.Sampler.__init__(data_source)``. torch 2.1 took that argument and ignored it; newer
torch removed ``Sampler.__init__`` altogether, so ``object.__init__`` refuses the argument and both
trainers fail before their first step ("object.__init__() takes exactly one argument"). Many users run
1.10.1 on a newer torch (the only way to use recent GPUs), so for the length of a run Sampler gets back
the ``__init__`` torch 2.1 had; where torch still has one, nothing is touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _ignore_data_source(self: Any, data_source: Any = None) -> None:
    """torch 2.1's ``Sampler.__init__``: the argument was never used."""


@contextmanager
def sampler_takes_data_source(sampler_class: type) -> Iterator[None]:
    """While inside, ``sampler_class(data_source)`` works as on torch 2.1 (``torch.utils.data.Sampler``)."""
    if "__init__" in vars(sampler_class):  # torch ≤ 2.x with its own __init__: WebUI works as it is
        yield
        return
    sampler_class.__init__ = _ignore_data_source  # type: ignore[misc]
    try:
        yield
    finally:
        if vars(sampler_class).get("__init__") is _ignore_data_source:
            del sampler_class.__init__
