"""The one place that knows gradio 3.41 (A1111) from gradio 4.x (Forge).

Everything version-dependent goes through these helpers so the tab builders read the same on both.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

GRADIO_MAJOR = int(gr.__version__.split(".")[0])
IS_GRADIO_4 = GRADIO_MAJOR >= 4


def js_kwarg(function_source: str) -> dict[str, str]:
    """The keyword that attaches a JavaScript function to an event (``_js`` in 3.x, ``js`` in 4.x)."""
    return {"js" if IS_GRADIO_4 else "_js": function_source}


def long_job_kwargs() -> dict[str, Any]:
    """Event keywords for handlers that run long (training, grids, downloads).

    gradio 4 runs each listener one at a time unless told otherwise; these handlers poll or wait,
    so they must not block each other. gradio 3.41 has no per-event limit (the queue has 64 workers).
    """
    return {"concurrency_limit": None} if IS_GRADIO_4 else {}


def as_path(value: Any) -> str | None:
    """A file component's value as a path: a tempfile object in 3.x, a str in 4.x."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("name") or value.get("path")
    return getattr(value, "name", value)


def as_paths(value: Any) -> list[str]:
    """A multi-file upload as a list of paths (3.x gives tempfile objects, 4.x strings)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [p for p in (as_path(item) for item in items) if p]


def gallery_items(value: Any) -> list[tuple[Any, str | None]]:
    """A gallery's value as ``(image or path, caption)`` pairs, whatever the gradio version sent."""
    items: list[tuple[Any, str | None]] = []
    for item in value or []:
        if isinstance(item, dict):  # gradio 3: {"name": path, "data": None, "is_file": True}
            items.append((item.get("name") or item.get("data"), item.get("caption")))
        elif isinstance(item, (list, tuple)):  # gradio 4: (image, caption)
            image = item[0]
            if isinstance(image, dict):
                image = image.get("path") or image.get("name")
            items.append((image, item[1] if len(item) > 1 else None))
        else:
            items.append((item, None))
    return items


def dropdown(choices: list[str], value: Any = None, **kwargs: Any) -> gr.Dropdown:
    """A dropdown whose choices are filled in later; a single-choice one accepts any value.

    gradio 4 warns about a value outside the choices; gradio 3.41 refuses custom values on a
    multiselect, so only single-choice dropdowns allow them.
    """
    if not kwargs.get("multiselect"):
        kwargs["allow_custom_value"] = True
    return gr.Dropdown(choices=choices, value=value, **kwargs)


def on_page_load(fn: Any, inputs: list[Any], outputs: list[Any], **kwargs: Any) -> bool:
    """Run ``fn`` when the page loads, from inside a tab builder (which has no handle on its Blocks).

    Both gradio 3.41 and 4 keep the Blocks being built in ``gradio.context.Context.root_block``;
    WebUI copies a tab's events into its page when it renders the tab. Returns False outside a Blocks.
    """
    from gradio.context import Context

    root = getattr(Context, "root_block", None)
    if root is None:
        return False
    root.load(fn, inputs, outputs, **kwargs)
    return True
