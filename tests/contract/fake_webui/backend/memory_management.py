"""Forge's ``backend.memory_management``: loading a patcher applies exactly its LoRA patches."""

from __future__ import annotations

from typing import Any

current_loaded_models: list[Any] = []
loads: list[Any] = []
emptied = 0


class LoadedModel:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.model_accelerated = False


def load_models_gpu(models: list[Any], memory_required: int = 0, hard_memory_preservation: int = 0) -> None:
    for model in models:
        loads.append(model)
        model.refresh_loras()
        current_loaded_models[:] = [m for m in current_loaded_models if m.model.model is not model.model]
        current_loaded_models.insert(0, LoadedModel(model))


def load_model_gpu(model: Any) -> None:
    load_models_gpu([model])


def soft_empty_cache(force: bool = False) -> None:
    global emptied
    emptied += 1
