"""Tag an image with WebUI's DeepBooru or BLIP without disturbing the job in progress.

WebUI's own ``interrogate()`` calls ``shared.state.begin()``/``end()``, which would reset the
progress bar of the job we run inside (a dataset tagging job), so BLIP is driven through
``load()`` / ``generate_caption()`` / ``unload()``, and the state fields are saved and restored
around every call anyway. DeepBooru's ``tag_multi`` reads its threshold from the global option;
the scoring is done here with WebUI's model and preprocessing so the caller's threshold applies
and no global setting is touched. Models are moved off the GPU afterwards as WebUI does (its
``stop()`` / ``unload()`` honour ``interrogate_keep_models_in_memory``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from model_workbench.host import HostFeatureUnavailable
from model_workbench.webui import messages

STATE_FIELDS = ("job", "job_no", "job_count", "sampling_step", "sampling_steps", "textinfo", "interrupted",
                "skipped", "stopping_generation", "time_start", "current_image", "id_live_preview")


@contextmanager
def preserved_state(state: Any) -> Iterator[None]:
    """Put ``shared.state``'s progress fields back as they were, whatever the call did to them.

    ``interrupted`` is kept if it was set meanwhile: the user's Interrupt must not be lost."""
    saved = {name: getattr(state, name) for name in STATE_FIELDS if hasattr(state, name)}
    try:
        yield
    finally:
        interrupted_now = bool(getattr(state, "interrupted", False))
        for name, value in saved.items():
            setattr(state, name, value)
        if interrupted_now:
            state.interrupted = True


def deepbooru_tags(deepbooru: Any, images: Any, devices: Any, opts: Any, image: Any, threshold: float) -> list[str]:
    """DeepBooru tags above ``threshold``, best first, with WebUI's tag options (spaces, filter)."""
    db = deepbooru.model
    db.start()
    try:
        pic = images.resize_image(2, image.convert("RGB"), 512, 512)
        a = np.expand_dims(np.array(pic, dtype=np.float32), 0) / 255
        with torch.no_grad(), devices.autocast():
            x = torch.from_numpy(a).to(devices.device, devices.dtype)
            y = db.model(x)[0].detach().float().cpu().numpy()
    finally:
        db.stop()
    scores = {tag: float(p) for tag, p in zip(db.model.tags, y, strict=False) if p >= threshold and not tag.startswith("rating:")}
    filtered = {t.strip().replace(" ", "_") for t in str(getattr(opts, "deepbooru_filter_tags", "") or "").split(",")}
    ordered = [t for t, _ in sorted(scores.items(), key=lambda item: -item[1]) if t not in filtered]
    if getattr(opts, "deepbooru_use_spaces", True):
        ordered = [t.replace("_", " ") for t in ordered]
    return ordered


def blip_tags(interrogator: Any, image: Any) -> list[str]:
    """BLIP's caption as one tag (the caption sentence), like WebUI's "Caption" preprocessing."""
    interrogator.load()
    try:
        caption = interrogator.generate_caption(image.convert("RGB"))
    finally:
        interrogator.unload()
    caption = str(caption).strip()
    return [caption] if caption else []


def _run_tagger(shared: Any, modules: dict[str, Any], image: Any, method: str, threshold: float) -> list[str]:
    if method == "deepbooru":
        if modules.get("deepbooru") is None:
            raise HostFeatureUnavailable(messages.TAG_UNAVAILABLE.format(what="DeepBooru"))
        return deepbooru_tags(modules["deepbooru"], modules["images"], modules["devices"], shared.opts, image, threshold)
    interrogator = getattr(shared, "interrogator", None)
    if interrogator is None:
        raise HostFeatureUnavailable(messages.TAG_UNAVAILABLE.format(what="BLIP interrogator"))
    return blip_tags(interrogator, image)


TAGGERS = {"deepbooru": ("DeepBooru", "models/torch_deepdanbooru"), "blip": ("BLIP", "models/BLIP")}


def tag_image(shared: Any, modules: dict[str, Any], image: Any, method: str, threshold: float) -> list[str]:
    """``modules`` holds WebUI's ``deepbooru``, ``images`` and ``devices`` (None where missing)."""
    if method not in TAGGERS:
        raise ValueError(messages.TAG_METHOD.format(method=method))
    with preserved_state(shared.state):
        try:
            return _run_tagger(shared, modules, image, method, threshold)
        except HostFeatureUnavailable:
            raise
        except Exception as error:  # a missing download, out of memory...: say what failed, keep the cause
            what, folder = TAGGERS[method]
            raise HostFeatureUnavailable(messages.TAG_FAILED.format(
                what=what, error=f"{type(error).__name__}: {error}", folder=folder)) from error
