"""What WebUI's embedding / hypernetwork code leaves on WebUI's state, put back as it was.

- A hypernetwork applied in a cross-attention stores its two layers on that attention module
  (``layer.hyper_k`` / ``layer.hyper_v`` in ``apply_single_hypernetwork``): they become submodules of
  the loaded model, written and never read. :func:`hypernet_layers_aside` takes them off for the
  duration and puts back exactly the ones there before, so the model's module tree is unchanged.
- ``train_hypernetwork`` rebinds ``shared.loaded_hypernetworks`` to its own list, and a generation
  with ``<hypernet:…>`` leaves what it loaded there: :func:`loaded_hypernetworks_kept` restores the
  list object WebUI had and its contents.
- ``loss.backward()`` in WebUI's trainers fills ``.grad`` of model parameters that require grad:
  :func:`model_grads_kept` drops the gradients the run added.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HYPERNET_ATTRIBUTES = ("hyper_k", "hyper_v")


def _strip_hypernet_layers(model: Any) -> dict[Any, dict[str, Any]]:
    found: dict[Any, dict[str, Any]] = {}
    for module in list(model.modules()):
        for name in HYPERNET_ATTRIBUTES:
            if name in getattr(module, "_modules", {}) or name in getattr(module, "__dict__", {}):
                found.setdefault(module, {})[name] = getattr(module, name)
                delattr(module, name)
    return found


@contextmanager
def hypernet_layers_aside(model: Any) -> Iterator[None]:
    """Take hypernetwork layers off the model's attention modules; afterwards put back the earlier ones."""
    if model is None or not hasattr(model, "modules"):
        yield
        return
    before = _strip_hypernet_layers(model)
    try:
        yield
    finally:
        _strip_hypernet_layers(model)
        for module, attributes in before.items():
            for name, value in attributes.items():
                setattr(module, name, value)


@contextmanager
def loaded_hypernetworks_kept(shared: Any) -> Iterator[None]:
    """``shared.loaded_hypernetworks`` afterwards: the same list object with the same hypernetworks."""
    original = getattr(shared, "loaded_hypernetworks", None)
    contents = list(original) if original is not None else None
    try:
        yield
    finally:
        if original is not None and contents is not None:
            original[:] = contents
            shared.loaded_hypernetworks = original


@contextmanager
def model_grads_kept(model: Any) -> Iterator[None]:
    """Drop the gradients a training run left on the model's own parameters."""
    params = list(model.parameters()) if model is not None and hasattr(model, "parameters") else []
    had = {id(p) for p in params if p.grad is not None}
    try:
        yield
    finally:
        for p in params:
            if p.grad is not None and id(p) not in had:
                p.grad = None
