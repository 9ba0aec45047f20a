"""The extension's HTTP API under ``/model-workbench/v1``, built over a host.

FastAPI only (no gradio, no ``modules``): WebUI's adapter mounts it with WebUI's ``--api-auth`` check,
the standalone app mounts it on its own server, and tests mount it on a bare FastAPI app. The
training routes use the host's shared :func:`~model_workbench.training.session.service_for`, so the
Train tab and the API see the same training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse

from model_workbench import __version__
from model_workbench.api_body import GENERATION_FIELDS, BodyError, Field, Schema, validate_body
from model_workbench.host import Host, HostFeatureUnavailable
from model_workbench.preview.plan import GenerationSettings

PREFIX = "/model-workbench/v1"
MSG_LORA_CHECK = "Checking a LoRA file against the loaded model needs Stable Diffusion WebUI."

# Each route's body: field → kind, range, default (model_workbench.api_body checks them all alike).
PROJECT_BODY: Schema = {"name": Field("text", required=True)}
TRAIN_BODY: Schema = {
    "project": Field("text", required=True), "version": Field("text", required=True),
    "config": Field("object", default={}), "resume": Field("bool", default=False),
    "switch_base_model": Field("bool", default=False),  # load the version's base model first where another is
}
BASE_MODEL_BODY: Schema = {
    "project": Field("text", required=True), "version": Field("text", required=True),
    "checkpoint": Field("text", required=True),  # WebUI's title or name, as /sdapi/v1/sd-models lists it
}
SWEEP_BODY: Schema = {
    "project": Field("text", required=True), "version": Field("text", required=True),
    "config": Field("object", default={}), "start": Field("bool", default=True), "dry_run": Field("bool", default=False),
}
QUEUE_ITEM_BODY: Schema = {"id": Field("int", required=True), "direction": Field("text", default="up")}
PREVIEW_BODY: Schema = {
    "project": Field("text", required=True), "version": Field("text", required=True),
    "prompts": Field("text_or_texts", default=""), "prompt": Field("text_or_texts", default=""),
    "weights": Field("text_or_numbers", default="1.0"), "checkpoints": Field("texts", nullable=True),
    **GENERATION_FIELDS,
    "width": Field("int", minimum=8, default=512), "height": Field("int", minimum=8, default=512),
    "baseline": Field("bool", default=False),
}
PUBLISH_BODY: Schema = {
    "project": Field("text", required=True), "version": Field("text", required=True),
    "checkpoint": Field("text", required=True), "weight": Field("number", default=1.0),
    "trigger_words": Field("text", default=""),
}
HUB_INSTALL_BODY: Schema = {
    "repo_id": Field("text", required=True), "path": Field("text", required=True),
    "revision": Field("text", default="main"), "kind": Field("text", nullable=True),  # None: the header's kind
    "subfolder": Field("text", nullable=True), "filename": Field("text", nullable=True),
}
DOWNLOAD_BODY: Schema = {
    "version_id": Field("int", required=True, minimum=1), "file_id": Field("int", nullable=True, minimum=1),
    "subfolder": Field("text", nullable=True), "filename": Field("text", nullable=True),
}


def checked(body: Any, schema: Schema) -> dict[str, Any]:
    """The body's fields, checked against ``schema``; a 400 naming the field otherwise."""
    try:
        return validate_body(body, schema)
    except BodyError as exc:
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

        values = checked(body, PROJECT_BODY)
        try:
            clean = projects.validate_name(values["name"])
            if projects.project_paths(host.data_dir(), clean).dir.exists():
                raise HTTPException(409, projects.MSG_PROJECT_EXISTS.format(name=clean))
            created = projects.create_project(host.data_dir(), clean)
        except projects.ProjectError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"name": created.name}

    @router.post("/train", status_code=202)
    def start_training(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import projects
        from model_workbench.training.base_checkpoint import BaseModelMismatch
        from model_workbench.training.session import TrainingBusy

        values = checked(body, TRAIN_BODY)
        try:
            snapshot = training().start(values["project"], values["version"], dict(values["config"]),
                                        resume=values["resume"], switch_base_model=values["switch_base_model"])
        except (TrainingBusy, HostFeatureUnavailable, BaseModelMismatch) as exc:  # say why (or ask to switch)
            raise HTTPException(409, str(exc)) from None
        except (projects.ProjectError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return {"state": snapshot["state"]}

    @router.post("/train/base-model")
    def base_model(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import projects
        from model_workbench.training.base_checkpoint import (
            MSG_WAIT_FOR_TRAINING,
            base_model_fields,
            choose_base_model,
        )

        values = checked(body, BASE_MODEL_BODY)
        if training().is_running():  # the training holds the GPU lock and trains on the loaded model
            raise HTTPException(409, MSG_WAIT_FOR_TRAINING)
        try:
            loaded = choose_base_model(host, host.data_dir(), values["project"], values["version"],
                                       values["checkpoint"])
        except HostFeatureUnavailable as exc:
            raise HTTPException(501, str(exc)) from None
        except (projects.ProjectError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        fields = base_model_fields(loaded)
        return {"title": loaded.title, **{k: fields[k] for k in ("base_model", "base_model_hash", "base_model_sha256")}}

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

        values = checked(body, PREVIEW_BODY)
        service = PreviewService(host, is_training=training().is_running)
        try:
            outcome = service.preview_all(
                values["project"], values["version"], values["weights"], values["prompts"] or values["prompt"],
                GenerationSettings.from_values(values, values["width"], values["height"]), seed=values["seed"],
                checkpoints=values["checkpoints"] or None, baseline=values["baseline"])
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

        values = checked(body, PUBLISH_BODY)
        try:
            result = publish_checkpoint(host, values["project"], values["version"], values["checkpoint"],
                                        values["weight"], values["trigger_words"])
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

    add_queue_routes(router, host)
    add_civitai_routes(router, host)
    from model_workbench.webui_kind_routes import (
        add_webui_kind_routes,  # embeddings and hypernetworks (issue 13)
    )

    add_webui_kind_routes(router, host)
    add_hub_routes(router, host)

    return router


def add_queue_routes(router: APIRouter, host: Host) -> None:
    """``POST /train/sweep`` plans (``dry_run``) or creates and queues a sweep's versions; ``GET
    /train/queue`` lists the queue; ``POST /train/queue/{start,move,remove}`` change it. The tab uses the
    same queue."""

    def queue():  # imported lazily: the queue imports the training service (torch)
        from model_workbench.training.queue import queue_for

        return queue_for(host)

    def changed(change: Any) -> dict[str, Any]:
        from model_workbench.training.queue import ItemMissing, ItemTraining, QueueError

        try:
            change()
        except ItemMissing as exc:
            raise HTTPException(404, str(exc)) from None
        except ItemTraining as exc:
            raise HTTPException(409, str(exc)) from None
        except QueueError as exc:
            raise HTTPException(400, str(exc)) from None
        return queue().snapshot()

    @router.post("/train/sweep", status_code=202)
    def sweep(body: Any = Body(None)) -> Any:  # noqa: B008
        from model_workbench.training import projects

        values = checked(body, SWEEP_BODY)
        try:
            if values["dry_run"]:
                plan, _ = queue().plan(values["project"], values["version"], dict(values["config"]))
                ids: list[int] = []
            else:
                plan, ids = queue().add_sweep(values["project"], values["version"], dict(values["config"]),
                                              start=values["start"])
        except HostFeatureUnavailable as exc:
            raise HTTPException(409, str(exc)) from None
        except (projects.ProjectError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        answer = {"count": plan.count, "summary": plan.summary(), "queue": ids,
                  "versions": [{"version": run.version, "settings": run.settings} for run in plan.runs]}
        return JSONResponse(answer, status_code=200 if values["dry_run"] else 202)

    @router.get("/train/queue")
    def queue_state() -> dict[str, Any]:
        return queue().snapshot()

    @router.post("/train/queue/start")
    def queue_start() -> dict[str, Any]:
        return changed(queue().start)

    @router.post("/train/queue/move")
    def queue_move(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        values = checked(body, QUEUE_ITEM_BODY)
        return changed(lambda: queue().move(values["id"], values["direction"]))

    @router.post("/train/queue/remove")
    def queue_remove(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        values = checked(body, QUEUE_ITEM_BODY)
        return changed(lambda: queue().remove(values["id"]))


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
    from model_workbench.downloads.queue import DestinationTaken

    @router.post("/civitai/download")
    def civitai_download(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        values = checked(body, DOWNLOAD_BODY)
        service = service_for(host)
        try:
            job_id, path = service.download_version(values["version_id"], values["file_id"], values["subfolder"],
                                                    values["filename"])
        except CivitaiError as error:
            raise HTTPException(status_code=error.status or 502, detail=str(error)) from None
        except DestinationTaken as error:  # another file is being written to that path
            raise HTTPException(status_code=409, detail=str(error)) from None
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return {"job_id": job_id, "path": str(path)}

    @router.get("/civitai/queue")
    def civitai_queue() -> dict[str, Any]:
        return {"jobs": [_job(s) for s in service_for(host).queue.snapshot()]}


def add_hub_routes(router: APIRouter, host: Host) -> None:
    """``POST /huggingface/install`` queues a Hub file (as the Hugging Face sub-tab's Install does) in the one
    download queue; ``GET /civitai/queue`` lists its job with the others."""
    from model_workbench.downloads.queue import DestinationTaken
    from model_workbench.hub_service import hub_service_for
    from model_workbench.huggingface.errors import HubError

    @router.post("/huggingface/install")
    def hub_install(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        values = checked(body, HUB_INSTALL_BODY)
        service = hub_service_for(host)
        try:
            kind = values["kind"]
            if not kind:
                details = service.details(values["repo_id"], values["revision"])
                kind = getattr(service.kinds(details).get(values["path"]), "kind", "") or "lora"
            job_id, path = service.install(values["repo_id"], values["revision"], values["path"], kind,
                                           values["subfolder"], values["filename"])
        except HubError as error:
            raise HTTPException(status_code=error.status or 502, detail=str(error)) from None
        except DestinationTaken as error:
            raise HTTPException(status_code=409, detail=str(error)) from None
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return {"job_id": job_id, "path": str(path)}
