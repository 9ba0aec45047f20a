"""The extension's HTTP API under ``/model-workbench/v1``, built over a host.

FastAPI only (no gradio, no ``modules``): WebUI's adapter mounts it with WebUI's ``--api-auth`` check,
the standalone app mounts it on its own server, and tests mount it on a bare FastAPI app. The
training routes use the host's shared :func:`~model_workbench.training.session.service_for`, so the
Train tab and the API see the same training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from model_workbench import __version__
from model_workbench.host import Host, HostFeatureUnavailable

PREFIX = "/model-workbench/v1"
MSG_BODY = "The request body must be a JSON object."
MSG_FIELD = "'{name}' is required."
MSG_LORA_CHECK = "Checking a LoRA file against the loaded model needs Stable Diffusion WebUI."


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HTTPException(400, MSG_FIELD.format(name=name))
    return value


def _settings(body: dict[str, Any]) -> Any:
    from model_workbench.preview.plan import GenerationSettings

    try:
        return GenerationSettings(
            negative_prompt=str(body.get("negative_prompt") or ""), steps=int(body.get("steps", 20)),
            sampler_name=str(body.get("sampler_name") or "Euler a"), cfg_scale=float(body.get("cfg_scale", 7.0)),
            width=int(body.get("width", 512)), height=int(body.get("height", 512)))
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None


def build_router(host: Host, dependencies: Sequence[Any] = ()) -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=list(dependencies))

    def training():  # imported lazily: /status and /folders must not need torch
        from model_workbench.training.session import service_for

        return service_for(host)

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
            "data_dir": str(host.data_dir()),
        }

    @router.get("/folders")
    def folders() -> dict[str, list[str]]:
        return {kind.value: [str(p) for p in paths] for kind, paths in host.model_folders().items()}

    @router.post("/projects")
    def create_project(body: Any = Body(None)) -> dict[str, str]:  # noqa: B008
        from model_workbench.training import projects

        if not isinstance(body, dict):
            raise HTTPException(400, MSG_BODY)
        name = body.get("name")
        try:
            clean = projects.validate_name(name if isinstance(name, str) else "")
            if projects.project_paths(host.data_dir(), clean).dir.exists():
                raise HTTPException(409, projects.MSG_PROJECT_EXISTS.format(name=clean))
            created = projects.create_project(host.data_dir(), clean)
        except projects.ProjectError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"name": created.name}

    @router.post("/train", status_code=202)
    def start_training(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import projects
        from model_workbench.training.session import TrainingBusy

        if not isinstance(body, dict):
            raise HTTPException(400, MSG_BODY)
        config = body.get("config") or {}
        if not isinstance(config, dict):
            raise HTTPException(400, "'config' must be a JSON object of kohya argument names.")
        try:
            snapshot = training().start(_text(body, "project"), _text(body, "version"), config,
                                        resume=bool(body.get("resume", False)))
        except TrainingBusy as exc:
            raise HTTPException(409, str(exc)) from None
        except (projects.ProjectError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return {"state": snapshot["state"]}

    @router.get("/train/status")
    def training_status() -> dict[str, Any]:
        return training().status()

    @router.post("/train/stop")
    def stop_training() -> dict[str, Any]:
        return {"stopping": training().stop()}

    @router.post("/preview")
    def preview(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.preview.requests import WeightListError
        from model_workbench.training import projects
        from model_workbench.training.previews import PreviewService

        if not isinstance(body, dict):
            raise HTTPException(400, MSG_BODY)
        prompts = body.get("prompts") or body.get("prompt") or ""
        checkpoints = body.get("checkpoints")
        service = PreviewService(host, is_training=training().is_running)
        try:
            outcome = service.preview_all(
                _text(body, "project"), _text(body, "version"), str(body.get("weights") or "1.0"), prompts,
                _settings(body), seed=int(body.get("seed", -1)),
                checkpoints=list(checkpoints) if checkpoints else None)
        except HostFeatureUnavailable as exc:
            raise HTTPException(501, str(exc)) from None
        except RuntimeError as exc:  # a training holds the GPU
            raise HTTPException(409, str(exc)) from None
        except (projects.ProjectError, WeightListError, ValueError, TypeError) as exc:
            raise HTTPException(400, str(exc)) from None
        return outcome.as_dict()

    @router.post("/publish")
    def publish(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import projects
        from model_workbench.training.publish import publish_checkpoint

        if not isinstance(body, dict):
            raise HTTPException(400, MSG_BODY)
        try:
            result = publish_checkpoint(host, _text(body, "project"), _text(body, "version"),
                                        _text(body, "checkpoint"), body.get("weight", 1.0),
                                        str(body.get("trigger_words") or ""))
        except (projects.ProjectError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return {"path": str(result.path), "name": result.name}

    @router.get("/lora-check")
    def lora_check(path: str = Query(...)) -> Any:  # noqa: B008
        # WebUI's host answers this with its own Lora loader (a host method or its own route);
        # a host without one says so.
        check = getattr(host, "lora_check", None)
        if not callable(check):
            return JSONResponse({"detail": MSG_LORA_CHECK}, status_code=501)
        return check(Path(path))

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
