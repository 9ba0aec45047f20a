"""The extension's HTTP API under ``/model-workbench/v1``, built over a host.

FastAPI only (no gradio, no ``modules``): WebUI's adapter mounts it with WebUI's ``--api-auth`` check,
and tests mount it on a bare FastAPI app.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

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

    add_civitai_routes(router, host)

    return router


class CivitaiDownload(BaseModel):
    version_id: int
    file_id: Optional[int] = None  # noqa: UP007 - pydantic 1 on Python 3.10 needs Optional here
    subfolder: Optional[str] = None  # noqa: UP007
    filename: Optional[str] = None  # noqa: UP007


def _job(snapshot: Any) -> dict[str, Any]:
    return {"id": snapshot.id, "name": snapshot.name, "status": snapshot.status.value, "bytes": snapshot.bytes,
            "total": snapshot.total, "speed": snapshot.speed, "eta": snapshot.eta, "message": snapshot.message,
            "destination": snapshot.destination, "error_kind": snapshot.error_kind, "retryable": snapshot.retryable,
            "version_id": snapshot.version_id}


def add_civitai_routes(router: APIRouter, host: Host) -> None:
    """``POST /civitai/download`` queues a file (as the tab's Download button does); ``GET /civitai/queue``
    lists the jobs. Both use the host's one service, so the tab shows API downloads too."""
    from model_workbench.civitai import CivitaiError
    from model_workbench.civitai_service import service_for

    @router.post("/civitai/download")
    def civitai_download(body: CivitaiDownload) -> dict[str, Any]:
        service = service_for(host)
        try:
            job_id, path = service.download_version(body.version_id, body.file_id, body.subfolder, body.filename)
        except CivitaiError as error:
            raise HTTPException(status_code=error.status or 502, detail=str(error)) from None
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return {"job_id": job_id, "path": str(path)}

    @router.get("/civitai/queue")
    def civitai_queue() -> dict[str, Any]:
        return {"jobs": [_job(s) for s in service_for(host).queue.snapshot()]}
