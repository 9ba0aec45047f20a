"""The Dataset sub-tab: concept folders with repeats, upload or import images, preprocess, auto-tag,
and the caption editor (one image, batch add/remove/replace, tag frequencies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from model_workbench.host import HostFeatureUnavailable
from model_workbench.training import dataset_tools as dt
from model_workbench.training import projects
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import as_paths, dropdown, long_job_kwargs
from model_workbench.ui.i18n import choice_labels, choice_value, t, tf
from model_workbench.ui.train_jobs import Job

DEFAULT_REPEATS = 10


def _concepts(root: Path, project: str) -> list[str]:
    try:
        return [c.name for c in projects.list_concepts(root, project)] if project else []
    except projects.ProjectError:
        return []


def _gallery(root: Path, project: str) -> list[tuple[str, str]]:
    try:
        items = dt.dataset_images(root, project) if project else []
    except projects.ProjectError:
        return []
    return [(str(i.path), f"{i.path.name}: {i.caption}" if i.caption else i.path.name) for i in items]


def _summary(root: Path, project: str) -> str:
    try:
        concepts = projects.list_concepts(root, project) if project else []
    except projects.ProjectError:
        return ""
    if not concepts:
        return H.message(t("No images yet. Upload images or import a folder; they go into a concept folder "
                           "whose repeat count says how often each image is seen per epoch."), "notice")
    parts = [tf("{name}: {images} images × {repeats} repeats", name=c.name, images=c.images, repeats=c.repeats)
             for c in concepts]
    return f"<div class='mw-muted'>{' · '.join(parts)}</div>"


def build_dataset_tab(ui: Any) -> None:
    c = ui.c
    root = ui.root
    with gr.Row():
        c["concept"] = dropdown([], label=t("Concept folder"), elem_id="mw_train_concept")
        c["concept_name"] = gr.Textbox(label=t("New concept name"), placeholder=t("the trigger word, e.g. sks_cat"),
                                       elem_id="mw_train_concept_name")
        c["repeats"] = gr.Number(label=t("Repeats per epoch"), value=DEFAULT_REPEATS, precision=0,
                                 elem_id="mw_train_repeats")
        with gr.Column(min_width=160):
            c["create_concept"] = gr.Button(t("Create concept"), elem_id="mw_train_create_concept")
            c["set_repeats"] = gr.Button(t("Set repeats"), elem_id="mw_train_set_repeats")
    with gr.Row():
        c["upload"] = gr.File(label=t("Add images"), file_count="multiple", file_types=["image"],
                              elem_id="mw_train_upload")
        with gr.Column():
            c["import_dir"] = gr.Textbox(label=t("Or import a folder on this computer"),
                                         placeholder="/path/to/images", elem_id="mw_train_import_dir")
            c["import"] = gr.Button(t("Import folder"), elem_id="mw_train_import")
    c["dataset_status"] = gr.HTML(elem_id="mw_train_dataset_status")
    with gr.Accordion(t("Preprocess: size, crop, mirror"), open=False, elem_id="mw_train_preprocess"), gr.Row():
            c["pre_width"] = gr.Number(label=t("Width"), value=512, precision=0, elem_id="mw_train_pre_width")
            c["pre_height"] = gr.Number(label=t("Height"), value=512, precision=0, elem_id="mw_train_pre_height")
            c["pre_mode"] = gr.Radio(choice_labels(list(dt.MODES)), value=t("crop"), label=t("Fit by"), elem_id="mw_train_pre_mode")
            c["pre_flip"] = gr.Checkbox(label=t("Add mirrored copies"), elem_id="mw_train_pre_flip")
            c["preprocess"] = gr.Button(t("Preprocess images"), elem_id="mw_train_preprocess_run")
    with gr.Accordion(t("Auto-tag"), open=True, elem_id="mw_train_autotag"), gr.Row():
        c["tag_method"] = gr.Radio(["deepbooru", "blip"], value="deepbooru", label=t("Tagger"),
                                   elem_id="mw_train_tag_method")
        c["tag_threshold"] = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label=t("DeepBooru threshold"),
                                       elem_id="mw_train_tag_threshold")
        c["tag_mode"] = gr.Radio(choice_labels(list(dt.TAG_MODES)), value=t("append"), label=t("Existing captions"),
                                 elem_id="mw_train_tag_mode")
        # Not a primary button where tagging cannot work: disabled, with the reason beside it.
        no_tagger = ui.ctx.host.tagging_refusal()
        c["tag_run"] = gr.Button(t("Tag all images"), variant="secondary" if no_tagger else "primary",
                                 interactive=not no_tagger, elem_id="mw_train_tag_run")
        if no_tagger:
            c["tag_unavailable"] = gr.HTML(H.message(no_tagger, "notice"), elem_id="mw_train_tag_unavailable")
    with gr.Row():
        with gr.Column(scale=3):
            # columns/height/allow_preview: the same keywords in gradio 3.41 and 4.
            c["dataset"] = gr.Gallery(label=t("Images and captions"), columns=6, height=360, allow_preview=False,
                                      elem_id="mw_train_gallery")
        with gr.Column(scale=2):
            c["selected_image"] = gr.Textbox(label=t("Selected image"), interactive=False,
                                             elem_id="mw_train_selected_image")
            c["caption"] = gr.Textbox(label=t("Caption"), lines=3, elem_id="mw_train_caption")
            c["save_caption"] = gr.Button(t("Save caption"), elem_id="mw_train_save_caption")
            with gr.Accordion(t("Batch edit tags"), open=True):
                c["only_selected"] = gr.Checkbox(label=t("Only the selected image"), elem_id="mw_train_only_selected")
                with gr.Row():
                    c["tags_add"] = gr.Textbox(label=t("Tags to add"), elem_id="mw_train_tags_add")
                    c["tags_front"] = gr.Checkbox(label=t("At the front"), elem_id="mw_train_tags_front")
                    c["tags_add_run"] = gr.Button(t("Add"), elem_id="mw_train_tags_add_run")
                with gr.Row():
                    c["tags_remove"] = gr.Textbox(label=t("Tags to remove"), elem_id="mw_train_tags_remove")
                    c["tags_remove_run"] = gr.Button(t("Remove"), elem_id="mw_train_tags_remove_run")
                with gr.Row():
                    c["tag_old"] = gr.Textbox(label=t("Replace tag"), elem_id="mw_train_tag_old")
                    c["tag_new"] = gr.Textbox(label=t("with"), elem_id="mw_train_tag_new")
                    c["tags_replace_run"] = gr.Button(t("Replace"), elem_id="mw_train_tags_replace_run")
    gr.Markdown(f"**{t('Tag frequency')}**")
    c["tag_table"] = gr.HTML(elem_id="mw_train_tag_table")

    views = [c["concept"], c["dataset"], c["tag_table"], c["dataset_status"]]

    def refresh(project: str, _version: str = "", note: str = "", concept: str | None = None) -> dict:
        concepts = _concepts(root, project)
        chosen = concept if concept in concepts else (concepts[0] if concepts else None)
        try:
            counts = dt.tag_frequency(root, project) if project else []
        except projects.ProjectError:
            counts = []
        return {c["concept"]: gr.update(choices=concepts, value=chosen), c["dataset"]: _gallery(root, project),
                c["tag_table"]: H.tag_table(counts), c["dataset_status"]: note or _summary(root, project)}

    ui.on_project(refresh, *views)

    def need_project(project: str) -> None:
        if not project:
            raise projects.ProjectError(t("Create or choose a project first."))

    def create_concept(project: str, name: str, repeats: float) -> dict:
        try:
            need_project(project)
            folder = projects.create_concept(root, project, name, int(repeats or DEFAULT_REPEATS))
        except (projects.ProjectError, ValueError) as exc:
            return {c["dataset_status"]: H.error(str(exc))}
        return refresh(project, note=H.message(tf("Concept folder {name} created.", name=folder.name)),
                       concept=projects.validate_name(name, "concept"))

    def set_repeats(project: str, concept: str, repeats: float) -> dict:
        try:
            need_project(project)
            folder = projects.set_concept_repeats(root, project, concept or "", int(repeats or 1))
        except (projects.ProjectError, ValueError) as exc:
            return {c["dataset_status"]: H.error(str(exc))}
        return refresh(project, note=H.message(tf("Repeats set: {name}.", name=folder.name)), concept=concept)

    def target_concept(project: str, concept: str, name: str, repeats: float) -> str:
        """The concept to add images to: the chosen one, a new one by name, or one named after the project."""
        need_project(project)
        wanted = (name or "").strip() or concept or project
        if wanted not in _concepts(root, project):
            projects.create_concept(root, project, wanted, int(repeats or DEFAULT_REPEATS))
        return projects.validate_name(wanted, "concept")

    def add_images(project: str, concept: str, name: str, repeats: float, sources: list[str]) -> dict:
        try:
            chosen = target_concept(project, concept, name, repeats)
            report = projects.import_images(root, project, chosen, sources)
        except (projects.ProjectError, ValueError) as exc:
            return {c["dataset_status"]: H.error(str(exc))}
        note = tf("{count} images added to {concept}.", count=len(report.copied), concept=chosen)
        skipped = "; ".join(f"{Path(p).name}: {why}" for p, why in report.skipped)
        if skipped:
            note += " " + tf("Skipped: {list}", list=skipped)
        return {**refresh(project, note=H.message(note, "notice" if skipped else "ok"), concept=chosen),
                c["concept_name"]: ""}

    def upload(files: Any, project: str, concept: str, name: str, repeats: float) -> dict:
        return {**add_images(project, concept, name, repeats, as_paths(files)), c["upload"]: None}

    def import_dir(folder: str, project: str, concept: str, name: str, repeats: float) -> dict:
        if not folder or not Path(folder).expanduser().is_dir():
            return {c["dataset_status"]: H.error(tf("The folder {path} does not exist.", path=folder or ""))}
        return add_images(project, concept, name, repeats, [str(Path(folder).expanduser())])

    def preprocess(project: str, width: float, height: float, mode: str, flip: bool) -> dict:
        try:
            need_project(project)
            lines = dt.preprocess(root, project, int(width or 0), int(height or 0),
                                  choice_value(mode, list(dt.MODES)), bool(flip))
        except (projects.ProjectError, ValueError) as exc:
            return {c["dataset_status"]: H.error(str(exc))}
        return refresh(project, note=H.message(tf("{count} images preprocessed.", count=len(lines))))

    def autotag(project: str, method: str, threshold: float, mode: str):
        try:
            need_project(project)
        except projects.ProjectError as exc:
            yield {c["dataset_status"]: H.error(str(exc))}
            return
        if ui.training.is_running():
            yield {c["dataset_status"]: H.error(t("A training is running; tag the images when it has finished."))}
            return
        refusal = ui.ctx.host.tagging_refusal()
        if refusal:  # said at once, not after the first image failed
            yield {c["dataset_status"]: H.error(refusal)}
            return
        job = Job(lambda report: dt.auto_tag(ui.ctx.host, root, project, method, float(threshold),
                                             choice_value(mode, list(dt.TAG_MODES)),
                                             progress=report))
        for j in job.poll():
            yield {c["dataset_status"]: H.message(tf("Tagging {label} ({done} of {total})…", label=j.label,
                                                    done=j.done, total=j.total), "notice")}
        if job.error is not None:
            text = str(job.error) if isinstance(job.error, (HostFeatureUnavailable, ValueError,
                                                            projects.ProjectError)) else repr(job.error)
            yield {c["dataset_status"]: H.error(text)}
            return
        yield refresh(project, note=H.message(tf("{count} images tagged with {method}.",
                                                 count=len(job.result), method=method)))

    def select_image(project: str, evt: gr.SelectData) -> dict:
        items = dt.dataset_images(root, project) if project else []
        index = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else 0)
        if not 0 <= index < len(items):
            return {}
        item = items[index]
        return {c["selected_image"]: str(item.path), c["caption"]: item.caption}

    def save_caption(project: str, image: str, caption: str) -> dict:
        if not image:
            return {c["dataset_status"]: H.error(t("Click an image in the gallery first."))}
        try:
            dt.write_caption(root, project, image, caption)
        except (projects.ProjectError, OSError) as exc:
            return {c["dataset_status"]: H.error(str(exc))}
        return refresh(project, note=H.message(tf("Caption of {name} saved.", name=Path(image).name)))

    def batch(project: str, image: str, only: bool, **kwargs: Any) -> dict:
        if only and not image:
            return {c["dataset_status"]: H.error(t("Click an image in the gallery first."))}
        try:
            need_project(project)
            changed = dt.edit_tags(root, project, [image] if only else None, **kwargs)
        except projects.ProjectError as exc:
            return {c["dataset_status"]: H.error(str(exc))}
        updates = refresh(project, note=H.message(tf("{count} captions changed.", count=changed)))
        if image:
            current = next((i.caption for i in dt.dataset_images(root, project) if str(i.path) == image), "")
            updates[c["caption"]] = current
        return updates

    def add_tags(project: str, image: str, only: bool, tags: str, front: bool) -> dict:
        return batch(project, image, only, add=dt.split_tags(tags), front=bool(front))

    def remove_tags(project: str, image: str, only: bool, tags: str) -> dict:
        return batch(project, image, only, remove=dt.split_tags(tags))

    def replace_tag(project: str, image: str, only: bool, old: str, new: str) -> dict:
        return batch(project, image, only, replace=(old or "", new or ""))

    p = c["project"]
    add_inputs = [p, c["concept"], c["concept_name"], c["repeats"]]
    c["create_concept"].click(create_concept, [p, c["concept_name"], c["repeats"]], views)
    c["set_repeats"].click(set_repeats, [p, c["concept"], c["repeats"]], views)
    c["upload"].upload(upload, [c["upload"], *add_inputs], views + [c["concept_name"], c["upload"]])
    c["import"].click(import_dir, [c["import_dir"], *add_inputs], views + [c["concept_name"]])
    c["preprocess"].click(preprocess, [p, c["pre_width"], c["pre_height"], c["pre_mode"], c["pre_flip"]], views)
    c["tag_run"].click(autotag, [p, c["tag_method"], c["tag_threshold"], c["tag_mode"]], views, **long_job_kwargs())
    c["dataset"].select(select_image, [p], [c["selected_image"], c["caption"]])
    c["save_caption"].click(save_caption, [p, c["selected_image"], c["caption"]], views)
    edit_outputs = views + [c["caption"]]
    base = [p, c["selected_image"], c["only_selected"]]
    c["tags_add_run"].click(add_tags, base + [c["tags_add"], c["tags_front"]], edit_outputs)
    c["tags_remove_run"].click(remove_tags, base + [c["tags_remove"]], edit_outputs)
    c["tags_replace_run"].click(replace_tag, base + [c["tag_old"], c["tag_new"]], edit_outputs)

