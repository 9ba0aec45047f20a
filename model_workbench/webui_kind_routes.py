"""HTTP routes of embedding and hypernetwork versions, under ``/model-workbench/v1/webui-kinds`` (beside
the LoRA training routes of :mod:`model_workbench.routes`, in their style).

- ``GET  /webui-kinds/support``   per kind: can train / preview here and why not; WebUI's prompt templates;
  each kind's default fields (the form's starting values)
- ``POST /webui-kinds/versions``  ``{project, version, kind, fields?}`` → a new version of that kind (409: exists)
- ``GET  /webui-kinds/settings?project&version`` → ``{kind, fields}``
- ``POST /webui-kinds/settings``  ``{project, version, fields}`` → the checked fields, stored
- ``POST /webui-kinds/train``     ``{project, version}`` → starts WebUI's trainer (202); ``/train/status`` and
  ``/train/stop`` follow and stop it, as for LoRA (409 while any training runs)
- ``GET  /webui-kinds/steps?project&version`` (or ``?run=<date>/<name>&kind=…``) → the saved steps, newest last
- ``POST /webui-kinds/grid``      ``{project, version | run+kind, strengths, prompts, template, snapshots
  (paths of the steps to show; all when absent), baseline, seed, …txt2img fields}`` → the grid (``/preview``'s answer shape)
- ``POST /webui-kinds/compare``   ``{project, versions, strengths, prompts, template, …}`` → side by side
- ``POST /webui-kinds/publish``   ``{project, version | run+kind, step, overwrite}`` → the published file
- ``GET  /webui-kinds/runs``      runs made in WebUI's own Train tab, with their steps
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query

from model_workbench.api_body import GENERATION_FIELDS, Field, Schema
from model_workbench.host import Host, HostFeatureUnavailable
from model_workbench.preview.plan import GenerationSettings

BASE = "/webui-kinds"
VERSION_BODY: Schema = {"project": Field("text", required=True), "version": Field("text", required=True),
                        "kind": Field("text", required=True), "fields": Field("object", default={})}
SETTINGS_BODY: Schema = {"project": Field("text", required=True), "version": Field("text", required=True),
                         "fields": Field("object", required=True)}
RUN_BODY: Schema = {"project": Field("text", required=True), "version": Field("text", required=True)}
SOURCE_FIELDS: Schema = {"project": Field("text", default=""), "version": Field("text", default=""),
                         "run": Field("text", default=""), "kind": Field("text", default="")}
GRID_BODY: Schema = {
    **SOURCE_FIELDS, "strengths": Field("text_or_numbers", default="1.0"), "prompts": Field("text_or_texts", default=""),
    "template": Field("text", default=""), "snapshots": Field("texts", nullable=True), "baseline": Field("bool", default=True),
    **GENERATION_FIELDS,
    "width": Field("int", minimum=8, default=512), "height": Field("int", minimum=8, default=512),
}
COMPARE_BODY: Schema = {
    "project": Field("text", required=True), "versions": Field("texts", required=True),
    **{k: v for k, v in GRID_BODY.items() if k not in SOURCE_FIELDS and k != "snapshots"},
}
COMPARE_BODY = {**COMPARE_BODY, "baseline": Field("bool", default=False)}
PUBLISH_BODY: Schema = {**SOURCE_FIELDS, "step": Field("text", required=True), "overwrite": Field("bool", default=False)}

MSG_SOURCE = "Name a project and version, or a WebUI training run and its kind."


def add_webui_kind_routes(router: APIRouter, host: Host) -> None:
    """Add the routes above to ``router`` (routes.build_router calls this)."""
    from model_workbench.routes import checked

    def training():
        from model_workbench.training.session import service_for

        return service_for(host)

    def source(values: dict[str, Any]):
        from model_workbench.training import webui_previews

        if values["run"]:
            return webui_previews.outside_source(host, values["run"], values["kind"] or "embedding")
        if values["project"] and values["version"]:
            return webui_previews.version_source(host.data_dir(), values["project"], values["version"])
        raise ValueError(MSG_SOURCE)

    def answer(call: Any) -> Any:
        """Run ``call``; the core's refusals as HTTP errors with their sentence."""
        from model_workbench.preview.requests import WeightListError
        from model_workbench.training import projects
        from model_workbench.training.session import TrainingBusy
        from model_workbench.training.webui_publish import PublishExists

        try:
            return call()
        except HostFeatureUnavailable as exc:
            raise HTTPException(501, str(exc)) from None
        except (TrainingBusy, PublishExists) as exc:
            raise HTTPException(409, str(exc)) from None
        except RuntimeError as exc:  # a training holds the GPU
            raise HTTPException(409, str(exc)) from None
        except (projects.ProjectError, WeightListError, ValueError, TypeError) as exc:
            raise HTTPException(400, str(exc)) from None

    @router.get(BASE + "/support")
    def support() -> dict[str, Any]:
        from model_workbench.training import webui_fields
        from model_workbench.training.webui_kinds import VersionKind

        return {"kinds": [{"kind": s.kind.value, "can_train": s.can_train, "train_reason": s.train_reason,
                           "can_preview": s.can_preview, "preview_reason": s.preview_reason}
                          for s in host.webui_trainer_support()],
                "prompt_templates": list(host.prompt_templates()),
                "defaults": {k.value: webui_fields.fields_to_dict(webui_fields.default_fields(k, ""))
                             for k in (VersionKind.EMBEDDING, VersionKind.HYPERNETWORK)}}

    @router.post(BASE + "/versions", status_code=201)
    def create_version(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import projects, webui_versions

        values = checked(body, VERSION_BODY)

        def create() -> dict[str, Any]:
            paths = projects.project_paths(host.data_dir(), values["project"])
            if paths.version_dir(values["version"]).exists():
                raise HTTPException(409, projects.MSG_VERSION_EXISTS.format(project=paths.name, name=values["version"]))
            webui_versions.create_kind_version(host.data_dir(), paths.name, values["version"], values["kind"],
                                               values["fields"], host.prompt_templates())
            return webui_versions.read_kind_settings(host.data_dir(), paths.name, values["version"])
        return answer(create)

    @router.get(BASE + "/settings")
    def read_settings(project: str = Query(...), version: str = Query(...)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import webui_versions

        return answer(lambda: webui_versions.read_kind_settings(host.data_dir(), project, version))

    @router.post(BASE + "/settings")
    def save_settings(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training import webui_fields, webui_versions

        values = checked(body, SETTINGS_BODY)
        saved = answer(lambda: webui_versions.save_kind_settings(host.data_dir(), values["project"], values["version"],
                                                                 values["fields"], host.prompt_templates()))
        return {"kind": webui_fields.kind_config(saved)["kind"], "fields": webui_fields.fields_to_dict(saved)}

    @router.post(BASE + "/train", status_code=202)
    def train(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        values = checked(body, RUN_BODY)
        try:
            snapshot = answer(lambda: training().start(values["project"], values["version"]))
        except HTTPException as refused:  # a host that cannot train is a 409, as for POST /train (LoRA)
            if refused.status_code == 501:
                raise HTTPException(409, refused.detail) from None
            raise
        return {"state": snapshot["state"], "kind": snapshot["kind"]}

    @router.get(BASE + "/steps")
    def steps(project: str = Query(""), version: str = Query(""), run: str = Query(""),  # noqa: B008
              kind: str = Query("")) -> dict[str, Any]:  # noqa: B008
        values = {"project": project, "version": version, "run": run, "kind": kind}
        return answer(lambda: source(values).as_dict())

    @router.post(BASE + "/grid")
    def grid(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training.previews import default_prompt
        from model_workbench.training.webui_previews import KindPreviewService

        values = checked(body, GRID_BODY)

        def render() -> dict[str, Any]:
            chosen = source(values)
            prompts = values["prompts"]
            if not prompts and chosen.kind.value == "hypernetwork":  # an embedding's default: its template's lines
                prompts = default_prompt(host.data_dir(), chosen.project) if chosen.project else chosen.name
            service = KindPreviewService(host, is_training=training().is_running)
            return service.grid(chosen, values["strengths"], prompts,
                                GenerationSettings.from_values(values, values["width"], values["height"]),
                                seed=values["seed"], steps=values["snapshots"] or None, template=values["template"],
                                baseline=values["baseline"]).as_dict()
        return answer(render)

    @router.post(BASE + "/compare")
    def compare(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training.webui_previews import KindPreviewService

        values = checked(body, COMPARE_BODY)
        service = KindPreviewService(host, is_training=training().is_running)
        return answer(lambda: service.compare(
            values["project"], values["versions"], values["strengths"], values["prompts"] or values["project"],
            GenerationSettings.from_values(values, values["width"], values["height"]), seed=values["seed"],
            template=values["template"], baseline=values["baseline"]).as_dict())

    @router.post(BASE + "/publish")
    def publish(body: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        from model_workbench.training.webui_publish import publish_step

        values = checked(body, PUBLISH_BODY)
        return answer(lambda: publish_step(host, source(values), values["step"], values["overwrite"]).as_dict())

    @router.get(BASE + "/runs")
    def runs() -> dict[str, Any]:
        from model_workbench.training.webui_runs import outside_runs

        return {"log_dir": str(host.webui_training_log_dir() or ""),
                "runs": [r.as_dict() for r in outside_runs(host.webui_training_log_dir())]}
