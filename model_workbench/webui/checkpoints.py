"""WebUI's checkpoint list and loader as the Host's base-model calls (A1111 v1.10 and Forge).

A1111 does what its checkpoint dropdown does (``opts.set("sd_model_checkpoint")``, whose onchange runs
``sd_models.reload_model_weights()``, then ``opts.save``), under the queue lock the caller already
holds: the option is set without its callback, which would take that (non re-entrant) lock again, and
the weights are loaded by ``reload_model_weights(info=…)``, which puts the old model back when loading
fails. Forge does what its dropdown does (``main_entry.checkpoint_change``: the option, config.json and
the loading parameters); the host then loads the model at once rather than at the next generation.
"""

from __future__ import annotations

from typing import Any

from model_workbench.host import BaseCheckpoint, HostFeatureUnavailable
from model_workbench.training.base_checkpoint import MSG_NOT_IN_LIST
from model_workbench.webui import messages

OPTION = "sd_model_checkpoint"


def checkpoint_ref(info: Any) -> BaseCheckpoint:
    """WebUI's ``CheckpointInfo`` in the core's terms (hashes None until WebUI has hashed the file)."""
    return BaseCheckpoint(title=info.title, name=info.name, filename=str(info.filename),
                          shorthash=getattr(info, "shorthash", None), sha256=getattr(info, "sha256", None),
                          legacy_hash=getattr(info, "hash", None))


def listed(sd_models: Any) -> list[BaseCheckpoint]:
    """WebUI's checkpoint list, in its order."""
    return [checkpoint_ref(info) for info in list(sd_models.checkpoints_list.values())]


def find_info(sd_models: Any, wanted: BaseCheckpoint) -> Any:
    """The ``CheckpointInfo`` of ``wanted``; ValueError with a sentence when WebUI does not list it."""
    for info in list(sd_models.checkpoints_list.values()):
        if wanted.same_as(checkpoint_ref(info)):
            return info
    raise ValueError(MSG_NOT_IN_LIST.format(name=wanted.title))


def _selected_info(sd_models: Any) -> Any | None:
    """The checkpoint WebUI would load (its option, else the first listed), or None when it has none."""
    try:
        return sd_models.select_checkpoint()
    except FileNotFoundError:
        return None


def loaded_a1111(sd_models: Any) -> BaseCheckpoint | None:
    """The loaded model's checkpoint, read without ``shared.sd_model`` (which would load one); before
    the first load, the one WebUI will load."""
    model = getattr(getattr(sd_models, "model_data", None), "sd_model", None)
    info = getattr(model, "sd_checkpoint_info", None) if model is not None else None
    info = info if hasattr(info, "title") else _selected_info(sd_models)
    return checkpoint_ref(info) if info is not None else None


def loaded_forge(sd_models: Any) -> BaseCheckpoint | None:
    """Forge's selected checkpoint (its loading parameters): the one it has loaded or loads next."""
    parameters = getattr(sd_models.model_data, "forge_loading_parameters", None) or {}
    info = parameters.get("checkpoint_info") or _selected_info(sd_models)
    return checkpoint_ref(info) if hasattr(info, "title") else None


def load_a1111(sd_models: Any, shared: Any, info: Any) -> None:
    """Load ``info`` as WebUI's checkpoint dropdown does (call with the queue lock held)."""
    before = shared.opts.data.get(OPTION)
    try:  # --freeze-settings (and its per-section/key variants) refuse the change, as they do in WebUI's UI
        shared.opts.set(OPTION, info.title, run_callbacks=False)
    except (AssertionError, RuntimeError) as exc:
        raise HostFeatureUnavailable(messages.CHECKPOINT_FROZEN.format(reason=exc)) from None
    try:
        sd_models.reload_model_weights(info=info)
    except BaseException:
        shared.opts.set(OPTION, before, run_callbacks=False)  # WebUI put the old model back; the option too
        raise
    shared.opts.save(shared.config_filename)


def select_forge(main_entry: Any, info: Any) -> None:
    """Select ``info`` as Forge's checkpoint dropdown does; the caller then loads it (``forge_model_reload``)."""
    main_entry.checkpoint_change(info.title)
