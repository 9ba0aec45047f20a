"""The extension's HTTP API under ``/model-workbench/v1``, built over a host.

FastAPI only (no gradio, no ``modules``): WebUI's adapter mounts it with WebUI's ``--api-auth`` check,
and tests mount it on a bare FastAPI app.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter

from model_workbench import __version__
from model_workbench.host import Host

PREFIX = "/model-workbench/v1"


def build_router(host: Host, dependencies: Sequence[Any] = ()) -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=list(dependencies))

    @router.get("/status")
    def status() -> dict[str, Any]:
        caps = host.capabilities()
        return {
            "version": __version__,
            "host": caps.name,
            "flavor": caps.flavor,
            "can_generate": caps.can_generate,
            "can_train": caps.can_train,
            "can_tag": caps.can_tag,
            "notes": list(caps.notes),
        }

    @router.get("/folders")
    def folders() -> dict[str, list[str]]:
        return {kind.value: [str(p) for p in paths] for kind, paths in host.model_folders().items()}

    return router
