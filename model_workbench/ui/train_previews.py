"""The Checkpoints, Preview grid, Compare and Publish sub-tabs.

Every preview is rendered by the host (WebUI's txt2img and Lora loader inside WebUI) in a
background job while the handler streams its progress; the result is a labelled grid saved with a
manifest, and a click on a cell shows that cell large with its parameters (``cell_at``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from model_workbench.host import HostFeatureUnavailable
from model_workbench.preview.manifest import cell_at, read_manifest
from model_workbench.preview.plan import GenerationSettings
from model_workbench.preview.requests import WeightListError
from model_workbench.training import projects
from model_workbench.training.previews import cell_image, default_prompt
from model_workbench.training.publish import publish_checkpoint
from model_workbench.training.webui_kinds import VersionKind
from model_workbench.training.webui_previews import version_source
from model_workbench.training.webui_publish import PublishExists, publish_step
from model_workbench.training.webui_runs import version_snapshots
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown, long_job_kwargs
from model_workbench.ui.i18n import t, tf, tm
from model_workbench.ui.train_jobs import Job
from model_workbench.ui.train_kinds import version_kind

SAMPLERS = ["Euler a", "Euler", "DPM++ 2M", "DPM++ SDE", "DDIM", "UniPC"]
EXPECTED = (HostFeatureUnavailable, WeightListError, ValueError, RuntimeError, projects.ProjectError)


def _checkpoints(root: Path, project: str, version: str) -> list[Any]:
    if not project or not version:
        return []
    try:
        return [i for i in projects.list_checkpoints(root, project, version) if not i.step_file]
    except projects.ProjectError:
        return []


def grid_viewer(c: dict, prefix: str, label: str) -> None:
    """A grid image with its manifest and a details pane that shows a clicked cell large."""
    c[f"{prefix}_progress"] = gr.HTML(elem_id=f"mw_train_{prefix}_progress")
    with gr.Row():
        with gr.Column(scale=3):
            c[f"{prefix}_image"] = gr.Image(label=label, interactive=False, type="filepath",
                                            elem_id=f"mw_train_{prefix}_image", elem_classes=["mw-grid-image"])
        with gr.Column(scale=2):
            c[f"{prefix}_cell"] = gr.Image(label=t("Selected cell"), interactive=False,
                                           elem_id=f"mw_train_{prefix}_cell")
            c[f"{prefix}_details"] = gr.HTML(H.cell_details(None), elem_id=f"mw_train_{prefix}_details")
    c[f"{prefix}_manifest"] = gr.State("")

    def select(manifest_path: str, evt: gr.SelectData) -> tuple[Any, str]:
        if not manifest_path or not Path(manifest_path).is_file():
            return None, H.cell_details(None)
        x, y = (evt.index if isinstance(evt.index, (list, tuple)) else (0, 0))[:2]
        entry = cell_at(read_manifest(manifest_path), float(x), float(y))
        if entry is None:
            return None, H.cell_details(None)
        return cell_image(manifest_path, entry), H.cell_details(entry)

    c[f"{prefix}_image"].select(select, [c[f"{prefix}_manifest"]], [c[f"{prefix}_cell"], c[f"{prefix}_details"]])


def _run(ui: Any, prefix: str, work: Any):
    """Run ``work(report, stop)`` as a job; stream progress into the viewer, then show the grid."""
    c = ui.c
    ui.preview_stop.clear()
    job = Job(lambda report: work(report, ui.preview_stop))
    for j in job.poll():
        text = tf("Rendering {label} ({done} of {total})…", label=j.label, done=j.done, total=j.total) \
            if j.total else t("Starting…")
        yield {c[f"{prefix}_progress"]: H.message(text, "notice")}
    if job.error is not None:
        text = str(job.error) if isinstance(job.error, EXPECTED) else f"{type(job.error).__name__}: {job.error}"
        yield {c[f"{prefix}_progress"]: H.error(text)}
        return
    outcome = job.result
    saved = outcome.saved
    done = sum(1 for cell in saved.manifest["cells"] if cell["status"] == "done")
    note = tf("{done} of {total} cells rendered. Saved {png} and its manifest. Click a cell to see it large.",
              done=done, total=len(saved.manifest["cells"]), png=str(saved.png_path))
    if outcome.message:
        note = outcome.message + " " + note
    yield {c[f"{prefix}_progress"]: H.message(note, "ok" if saved.manifest.get("complete") else "notice"),
           c[f"{prefix}_image"]: str(saved.png_path), c[f"{prefix}_manifest"]: str(saved.manifest_path),
           c[f"{prefix}_cell"]: None, c[f"{prefix}_details"]: H.cell_details(None)}


def viewer_outputs(c: dict, prefix: str) -> list[Any]:
    return [c[f"{prefix}_progress"], c[f"{prefix}_image"], c[f"{prefix}_manifest"], c[f"{prefix}_cell"],
            c[f"{prefix}_details"]]


def generation_settings(negative: str, steps: float, width: float, height: float, cfg: float, sampler: str) -> GenerationSettings:
    return GenerationSettings(negative_prompt=negative or "", steps=int(steps or 20), sampler_name=sampler or "Euler a",
                              cfg_scale=float(cfg or 7.0), width=int(width or 512), height=int(height or 512))


def prompt_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def build_checkpoints_tab(ui: Any) -> None:
    c = ui.c
    root = ui.root
    c["checkpoints"] = gr.HTML(elem_id="mw_train_checkpoints")
    with gr.Row(elem_classes=["mw-hidden"]):
        c["preview_path"] = gr.Textbox(elem_id="mw_train_preview_path", show_label=False)
        c["preview_hidden"] = gr.Button(t("Preview"), elem_id="mw_train_preview_hidden")
    with gr.Row():
        c["ckpt_weights"] = gr.Textbox(label=t("LoRA weights"), value="0.6, 0.8, 1.0", elem_id="mw_train_ckpt_weights")
        c["ckpt_prompt"] = gr.Textbox(label=t("Prompt"), elem_id="mw_train_ckpt_prompt")
        c["ckpt_seed"] = gr.Number(label=t("Seed"), value=1234, precision=0, elem_id="mw_train_ckpt_seed")
        c["ckpt_batch"] = gr.Slider(1, 4, value=1, step=1, label=t("Images per cell (n × n)"),
                                    elem_id="mw_train_ckpt_batch")
    gr.Markdown(t("Click **Preview** beside a checkpoint to render it at each weight. Steps, size, sampler, "
                  "CFG scale and negative prompt come from the Preview grid tab."))
    grid_viewer(c, "ckpt", t("Checkpoint preview"))

    def refresh(project: str, version: str) -> dict:
        kind = version_kind(root, project, version)
        if kind is VersionKind.LORA:
            table = H.checkpoint_table(_checkpoints(root, project, version))
        else:  # an embedding's or hypernetwork's checkpoints are the steps WebUI's trainer saved
            table = H.snapshot_table(_snapshots(root, project, version, kind))
        return {c["checkpoints"]: table, c["ckpt_weights"]: weights_update(kind)}

    ui.on_project(refresh, c["checkpoints"], c["ckpt_weights"])

    def preview(project: str, version: str, path: str, weights: str, prompt: str, seed: float, batch: float,
                negative: str, steps: float, width: float, height: float, cfg: float, sampler: str):
        if not prompt.strip():
            prompt = default_prompt(root, project)
        if version_kind(root, project, version) is not VersionKind.LORA:  # one step: its row of the kind's grid
            yield from _run(ui, "ckpt", lambda report, stop: ui.kind_previews.grid(
                version_source(root, project, version), weights, prompt, generation_settings(
                    negative, steps, width, height, cfg, sampler), seed=int(seed if seed is not None else -1),
                steps=[path], progress=report, stop=stop))
            return
        yield from _run(ui, "ckpt", lambda report, stop: ui.previews.preview_checkpoint(
            project, version, path, weights, prompt, generation_settings(negative, steps, width, height, cfg, sampler),
            seed=int(seed if seed is not None else -1), batch_side=int(batch or 1), progress=report, stop=stop))

    def wire() -> None:
        shared = [c["grid_negative"], c["grid_steps"], c["grid_width"], c["grid_height"], c["grid_cfg"],
                  c["grid_sampler"]]
        c["preview_hidden"].click(preview, [c["project"], c["version"], c["preview_path"], c["ckpt_weights"],
                                            c["ckpt_prompt"], c["ckpt_seed"], c["ckpt_batch"], *shared],
                                  viewer_outputs(c, "ckpt"), **long_job_kwargs())

    ui.later.append(wire)


def _snapshots(root: Path, project: str, version: str, kind: VersionKind) -> list[Any]:
    if not project or not version:
        return []
    try:
        return version_snapshots(root, project, version, kind)
    except projects.ProjectError:
        return []


def weights_update(kind: VersionKind) -> dict[str, Any]:
    """The weights field for the version's kind: a hypernetwork's strengths (``<hypernet:name:S>``); an
    embedding has none (its columns are the prompt without it, then with it)."""
    label = {VersionKind.LORA: t("LoRA weights"), VersionKind.HYPERNETWORK: t("Hypernetwork strengths")}
    return gr.update(label=label.get(kind, ""), visible=kind is not VersionKind.EMBEDDING)


def build_grid_tab(ui: Any) -> None:
    c = ui.c
    root = ui.root
    with gr.Row():
        c["weights"] = gr.Textbox(label=t("LoRA weights"), value="0.6, 0.8, 1.0", elem_id="mw_train_weights")
        c["grid_seed"] = gr.Number(label=t("Seed"), value=1234, precision=0, elem_id="mw_train_grid_seed")
        c["grid_baseline"] = gr.Checkbox(label=t("First column without the LoRA (baseline)"), value=True,
                                         elem_id="mw_train_grid_baseline")
    c["grid_prompt"] = gr.Textbox(label=t("Prompts, one per line (several make a third axis)"), lines=2,
                                  elem_id="mw_train_grid_prompt")
    c["grid_negative"] = gr.Textbox(label=t("Negative prompt"), elem_id="mw_train_grid_negative")
    with gr.Row():
        c["grid_steps"] = gr.Number(label=t("Steps"), value=20, precision=0, elem_id="mw_train_grid_steps")
        c["grid_width"] = gr.Number(label=t("Width"), value=512, precision=0, elem_id="mw_train_grid_width")
        c["grid_height"] = gr.Number(label=t("Height"), value=512, precision=0, elem_id="mw_train_grid_height")
        c["grid_cfg"] = gr.Number(label=t("CFG scale"), value=7.0, elem_id="mw_train_grid_cfg")
        c["grid_sampler"] = dropdown(SAMPLERS, value=SAMPLERS[0], label=t("Sampler"), elem_id="mw_train_grid_sampler")
    with gr.Row():
        c["grid_run"] = gr.Button(t("Preview all (same seed)"), variant="primary", elem_id="mw_train_grid_run")
        c["grid_stop"] = gr.Button(t("Stop"), variant="stop", elem_id="mw_train_grid_stop")
    c["grid_kind_note"] = gr.HTML(elem_id="mw_train_grid_kind_note")
    grid_viewer(c, "grid", t("Grid"))

    def refresh(project: str, version: str) -> dict:
        kind = version_kind(root, project, version)
        baseline = {VersionKind.LORA: t("First column without the LoRA (baseline)"),
                    VersionKind.EMBEDDING: t("First column without the embedding (baseline)"),
                    VersionKind.HYPERNETWORK: t("First column at strength 0 (baseline)")}[kind]
        note = {VersionKind.EMBEDDING: t("Rows are the saved steps, one block per prompt; write the trigger word "
                                         "in each prompt."),
                VersionKind.HYPERNETWORK: t("Rows are the saved steps, columns the strengths.")}.get(kind, "")
        return {c["weights"]: weights_update(kind), c["grid_baseline"]: gr.update(label=baseline),
                c["grid_kind_note"]: H.message(note, "notice")}

    ui.on_project(refresh, c["weights"], c["grid_baseline"], c["grid_kind_note"])

    def run(project: str, version: str, weights: str, seed: float, baseline: bool, prompts: str, negative: str,
            steps: float, width: float, height: float, cfg: float, sampler: str):
        chosen = prompt_lines(prompts) or [default_prompt(root, project)]
        if version_kind(root, project, version) is not VersionKind.LORA:  # steps × strengths or × prompts
            yield from _run(ui, "grid", lambda report, stop: ui.kind_previews.grid(
                version_source(root, project, version), weights, prompt_lines(prompts), generation_settings(
                    negative, steps, width, height, cfg, sampler), seed=int(seed if seed is not None else -1),
                baseline=bool(baseline), progress=report, stop=stop))
            return
        yield from _run(ui, "grid", lambda report, stop: ui.previews.preview_all(
            project, version, weights, chosen, generation_settings(negative, steps, width, height, cfg, sampler),
            seed=int(seed if seed is not None else -1), progress=report, stop=stop, baseline=bool(baseline)))

    def stop() -> dict:
        ui.preview_stop.set()
        return {c["grid_progress"]: H.message(t("Stopping after the current cell; finished cells are kept."), "notice")}

    c["grid_run"].click(run, [c["project"], c["version"], c["weights"], c["grid_seed"], c["grid_baseline"],
                              c["grid_prompt"],
                              c["grid_negative"], c["grid_steps"], c["grid_width"], c["grid_height"], c["grid_cfg"],
                              c["grid_sampler"]], viewer_outputs(c, "grid"), **long_job_kwargs())
    c["grid_stop"].click(stop, None, [c["grid_progress"]], queue=False)


def build_compare_tab(ui: Any) -> None:
    c = ui.c
    root = ui.root
    with gr.Row():
        c["compare_versions"] = dropdown([], label=t("Versions to compare (their last checkpoint)"), multiselect=True,
                                         elem_id="mw_train_compare_versions")
        c["compare_weights"] = gr.Textbox(label=t("LoRA weights"), value="1.0", elem_id="mw_train_compare_weights")
        c["compare_seed"] = gr.Number(label=t("Seed"), value=1234, precision=0, elem_id="mw_train_compare_seed")
    c["compare_prompt"] = gr.Textbox(label=t("Prompt"), elem_id="mw_train_compare_prompt")
    c["compare_run"] = gr.Button(t("Compare"), variant="primary", elem_id="mw_train_compare_run")
    gr.Markdown(t("Steps, size, sampler, CFG scale and negative prompt come from the Preview grid tab."))
    grid_viewer(c, "compare", t("Side by side"))

    def refresh(project: str, version: str) -> dict:
        kind = version_kind(root, project, version)  # only versions of the selected one's kind compare

        def trained(name: str, checkpoints: int) -> bool:
            if version_kind(root, project, name) is not kind:
                return False
            return bool(checkpoints) if kind is VersionKind.LORA else bool(_snapshots(root, project, name, kind))
        try:
            versions = [v.name for v in projects.list_versions(root, project) if trained(v.name, v.checkpoints)] \
                if project else []
        except projects.ProjectError:
            versions = []
        return {c["compare_versions"]: gr.update(choices=versions, value=versions[:2])}

    ui.on_project(refresh, c["compare_versions"])

    def wire() -> None:
        run, inputs, outputs = compare_wiring(ui)
        c["compare_run"].click(run, inputs, outputs, **long_job_kwargs())

    ui.later.append(wire)


def compare_wiring(ui: Any) -> tuple[Any, list[Any], list[Any]]:
    """The Compare button's handler, inputs and outputs (the Queue's "Compare these versions" runs it too)."""
    c = ui.c

    def run(project: str, versions: list[str], weights: str, seed: float, prompt: str, negative: str, steps: float,
            width: float, height: float, cfg: float, sampler: str):
        kinds = {version_kind(ui.root, project, v) for v in versions or []}
        if kinds and VersionKind.LORA not in kinds:  # embeddings or hypernetworks: the core refuses a mix
            yield from _run(ui, "compare", lambda report, stop: ui.kind_previews.compare(
                project, list(versions or []), weights, prompt_lines(prompt), generation_settings(
                    negative, steps, width, height, cfg, sampler), seed=int(seed if seed is not None else -1),
                progress=report, stop=stop, baseline=True))
            return
        prompt = prompt.strip() or default_prompt(ui.root, project)
        yield from _run(ui, "compare", lambda report, stop: ui.previews.compare(
            project, list(versions or []), weights, prompt, generation_settings(negative, steps, width, height, cfg, sampler),
            seed=int(seed if seed is not None else -1), progress=report, stop=stop))

    inputs = [c["project"], c["compare_versions"], c["compare_weights"], c["compare_seed"], c["compare_prompt"],
              c["grid_negative"], c["grid_steps"], c["grid_width"], c["grid_height"], c["grid_cfg"], c["grid_sampler"]]
    return run, inputs, viewer_outputs(c, "compare")


def publish_label(kind: VersionKind) -> str:
    return {VersionKind.LORA: t("Publish to the LoRA folder"), VersionKind.EMBEDDING: t("Publish to the embeddings folder"),
            VersionKind.HYPERNETWORK: t("Publish to the hypernetworks folder")}[kind]


def publish_kind_step(ui: Any, source: Any, name: str, overwrite: bool = False) -> str:
    """Publish the step file ``name`` of ``source()`` (a version's or an outside run's); the line to show.
    A different file already in WebUI's folder is replaced only with ``overwrite`` (the user confirmed)."""
    try:
        found = source()
        match = [s.path for s in found.snapshots if s.path.name == name]
        if not match:
            return H.error(t("Choose a step to publish."))
        result = publish_step(ui.ctx.host, found, match[0], overwrite=overwrite)
    except PublishExists as exc:
        return H.error(tm(str(exc)) + " " + t("Tick “Replace a different file already there” and publish again."))
    except (projects.ProjectError, ValueError, OSError) as exc:
        return H.error(str(exc))
    usage = (tf("Use it in a prompt by writing {name}.", name=result.name) if found.kind is VersionKind.EMBEDDING
             else tf("Use it in a prompt as <hypernet:{name}:1>.", name=result.name))
    text = tf("Published as {path}.", path=str(result.path)) + " " + usage
    if result.preview_path is None:
        text += " " + t("No preview image yet: render a preview of this checkpoint and publish again to add one.")
    return H.message(text)


def overwrite_box(elem_id: str, visible: bool = True) -> Any:
    """The confirmation a publish needs to replace a different file already in WebUI's folder."""
    return gr.Checkbox(label=t("Replace a different file already there"), value=False, visible=visible,
                       elem_id=elem_id)


def build_publish_tab(ui: Any) -> None:
    c = ui.c
    root = ui.root
    gr.Markdown(t("Copy a checkpoint into the LoRA folder (a subfolder per project) with a preview image and "
                  "WebUI's card metadata, then refresh WebUI's LoRA list."))
    with gr.Row():
        c["publish_checkpoint"] = dropdown([], label=t("Checkpoint"), elem_id="mw_train_publish_checkpoint")
        c["publish_weight"] = gr.Number(label=t("Preferred weight"), value=0.8, elem_id="mw_train_publish_weight")
        c["publish_trigger"] = gr.Textbox(label=t("Activation text (trigger words)"), elem_id="mw_train_publish_trigger")
        c["publish_overwrite"] = overwrite_box("mw_train_publish_overwrite", visible=False)
    c["publish"] = gr.Button(t("Publish to the LoRA folder"), variant="primary", elem_id="mw_train_publish")
    c["publish_status"] = gr.HTML(elem_id="mw_train_publish_status")

    def refresh(project: str, version: str) -> dict:
        kind = version_kind(root, project, version)
        if kind is not VersionKind.LORA:  # a step of an embedding or hypernetwork, into WebUI's folder of its kind
            names = [s.path.name for s in _snapshots(root, project, version, kind)]
            return {c["publish_checkpoint"]: gr.update(choices=names, value=names[-1] if names else None,
                                                       label=t("Step to publish")),
                    c["publish_trigger"]: gr.update(visible=False), c["publish"]: gr.update(value=publish_label(kind)),
                    c["publish_overwrite"]: gr.update(visible=True, value=False)}
        names = [i.path.name for i in _checkpoints(root, project, version)]
        return {c["publish_checkpoint"]: gr.update(choices=names, value=names[-1] if names else None,
                                                   label=t("Checkpoint")),
                c["publish_trigger"]: gr.update(value=default_prompt(root, project) if project else "", visible=True),
                c["publish"]: gr.update(value=publish_label(kind)), c["publish_overwrite"]: gr.update(visible=False)}

    ui.on_project(refresh, c["publish_checkpoint"], c["publish_trigger"], c["publish"], c["publish_overwrite"])

    def publish(project: str, version: str, name: str, weight: float, trigger: str, overwrite: bool) -> dict:
        if version_kind(root, project, version) is not VersionKind.LORA:
            status = publish_kind_step(ui, lambda: version_source(root, project, version), name, bool(overwrite))
            return {c["publish_status"]: status, c["publish_overwrite"]: False}  # confirm each replacement anew
        match = [i.path for i in _checkpoints(root, project, version) if i.path.name == name]
        if not match:
            return {c["publish_status"]: H.error(t("Choose a checkpoint to publish."))}
        try:
            result = publish_checkpoint(ui.ctx.host, project, version, str(match[0]),
                                        weight if weight is not None else 1.0, trigger or "")
        except (projects.ProjectError, ValueError, OSError) as exc:
            return {c["publish_status"]: H.error(str(exc))}
        text = tf("Published as {path}. Use it in a prompt as <lora:{name}:{weight}>.", path=str(result.path),
                  name=result.name, weight=f"{float(weight if weight is not None else 1.0):g}")
        if result.preview_path is None:
            text += " " + t("No preview image yet: render a preview of this checkpoint and publish again to add one.")
        return {c["publish_status"]: H.message(text)}

    c["publish"].click(publish, [c["project"], c["version"], c["publish_checkpoint"], c["publish_weight"],
                                 c["publish_trigger"], c["publish_overwrite"]],
                       [c["publish_status"], c["publish_overwrite"]])
