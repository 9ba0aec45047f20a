"""The Train tab's "Preview when done" group and the grid it shows when a training has ended.

The group holds the Preview grid tab's "Preview all" fields (parsed the same way, by
``train_previews``); Start and Resume send them as ``config.preview_after_training`` so they are
kept in the version's config (:mod:`model_workbench.training.after_preview`). The grid rendered at
the end of the run comes back in the training status, which the tab already follows: it is shown
here and on the Preview grid tab without another click.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from model_workbench.training.after_preview import KEY, AfterTrainingPreview, parse_settings
from model_workbench.ui import train_html as H
from model_workbench.ui.compat import dropdown
from model_workbench.ui.i18n import t
from model_workbench.ui.train_kinds import version_config
from model_workbench.ui.train_previews import SAMPLERS, grid_viewer, prompt_lines

# The group's fields in component order (the order of ``c["after_inputs"]``).
FIELDS = ("enabled", "weights", "seed", "baseline", "prompts", "negative_prompt", "steps", "width", "height",
          "cfg_scale", "sampler_name")


def build_after_preview_group(ui: Any) -> list[Any]:
    """Lay out the group (inside the Train tab, after the sample settings); returns its inputs. Call
    :func:`build_after_preview_result` later for the grid it shows."""
    c = ui.c
    d = AfterTrainingPreview()
    with gr.Accordion(t("Preview when done"), open=False, elem_id="mw_train_after"):
        gr.Markdown(t("When the training ends (or is stopped after a checkpoint was saved), every checkpoint of "
                      "the run is previewed at these weights, with the same seed, and the grid is shown below. "
                      "The settings are kept with the version."))
        with gr.Row():
            enabled = gr.Checkbox(label=t("Preview when done"), value=d.enabled, elem_id="mw_train_after_enabled")
            weights = gr.Textbox(label=t("LoRA weights"), value=d.weights, elem_id="mw_train_after_weights")
            seed = gr.Number(label=t("Seed"), value=d.seed, precision=0, elem_id="mw_train_after_seed")
            baseline = gr.Checkbox(label=t("First column without the LoRA (baseline)"), value=d.baseline,
                                   elem_id="mw_train_after_baseline")
        prompts = gr.Textbox(label=t("Prompts, one per line (empty: the sample prompts, else the trigger words)"),
                             lines=2, elem_id="mw_train_after_prompts")
        negative = gr.Textbox(label=t("Negative prompt"), elem_id="mw_train_after_negative")
        with gr.Row():
            steps = gr.Number(label=t("Steps"), value=d.steps, precision=0, elem_id="mw_train_after_steps")
            width = gr.Number(label=t("Width (0: the training resolution)"), value=d.width, precision=0,
                              elem_id="mw_train_after_width")
            height = gr.Number(label=t("Height (0: the training resolution)"), value=d.height, precision=0,
                               elem_id="mw_train_after_height")
            cfg = gr.Number(label=t("CFG scale"), value=d.cfg_scale, elem_id="mw_train_after_cfg")
            sampler = dropdown(SAMPLERS, value=d.sampler_name, label=t("Sampler"), elem_id="mw_train_after_sampler")
    inputs = [enabled, weights, seed, baseline, prompts, negative, steps, width, height, cfg, sampler]
    c["after_inputs"] = inputs
    return inputs


def build_after_preview_result(ui: Any) -> None:
    """The grid the run rendered when it ended (below the run's progress and samples)."""
    c = ui.c
    inputs = c["after_inputs"]
    # Shown once a run has rendered its grid: empty image boxes under every training would only puzzle.
    with gr.Column(visible=False, elem_id="mw_train_after_box") as c["after_box"]:
        grid_viewer(c, "after", t("Preview grid after training"))

    def load(project: str, version: str) -> dict:
        """The version's stored settings in the group, and the grid of its last run (not another version's)."""
        status = ui.training.status_for(project, version)
        if (status.get("project"), status.get("version")) != (project, version):
            status = {}
        return {**dict(zip(inputs, stored_values(ui.root, project, version), strict=True)), **after_view(ui, status)}

    ui.on_project(load, *inputs, *after_outputs(c))


def stored_values(root: Path, project: str, version: str) -> list[Any]:
    """Component values for the version's stored settings (the defaults when it has none or they are unreadable)."""
    settings = AfterTrainingPreview()
    stored = version_config(root, project, version).get(KEY)  # {} where there is no such version
    try:
        settings = parse_settings(stored) if stored is not None else settings
    except ValueError:
        pass
    values = settings.to_dict()
    values["prompts"] = "\n".join(settings.prompts)
    return [values[name] for name in FIELDS]


def overrides_from(values: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The group's component values as ``config.preview_after_training`` (the training service checks them)."""
    raw = dict(zip(FIELDS, values, strict=True))
    d = AfterTrainingPreview()

    def number(name: str, default: float) -> float:
        value = raw[name]
        return default if value is None or value == "" else float(value)

    return {"enabled": bool(raw["enabled"]), "weights": str(raw["weights"] or "").strip() or d.weights,
            "prompts": prompt_lines(raw["prompts"] or ""), "negative_prompt": str(raw["negative_prompt"] or ""),
            "seed": int(number("seed", d.seed)), "steps": int(number("steps", d.steps)),
            "sampler_name": raw["sampler_name"] or d.sampler_name, "cfg_scale": number("cfg_scale", d.cfg_scale),
            "width": int(number("width", d.width)), "height": int(number("height", d.height)),
            "baseline": bool(raw["baseline"])}


def after_outputs(c: dict) -> list[Any]:
    """What :func:`after_view` updates: this group's viewer and the Preview grid tab's."""
    return [c["after_progress"], c["after_image"], c["after_manifest"], c["after_box"]]


def grid_tab_outputs(c: dict) -> list[Any]:
    return [c["grid_progress"], c["grid_image"], c["grid_manifest"]]


def after_view(ui: Any, status: dict[str, Any], grid_tab: bool = False) -> dict:
    """The run's preview as the tab shows it: its progress or end as a sentence and, once saved, the grid
    (on the Preview grid tab too when ``grid_tab``, so it is there without a click on Preview all)."""
    c = ui.c
    preview = status.get("preview")
    if not preview:
        return {c["after_progress"]: "", c["after_image"]: None, c["after_manifest"]: "",
                c["after_box"]: gr.update(visible=False)}
    kind = {"done": "ok", "failed": "error"}.get(preview.get("state", ""), "notice")
    out = {c["after_progress"]: H.message(preview.get("message") or "", kind), c["after_box"]: gr.update(visible=True)}
    grid = preview.get("grid") or ""
    if grid and Path(grid).is_file():
        out.update({c["after_image"]: grid, c["after_manifest"]: preview.get("manifest") or ""})
        if grid_tab:
            out.update({c["grid_progress"]: out[c["after_progress"]], c["grid_image"]: grid,
                        c["grid_manifest"]: preview.get("manifest") or ""})
    return out


def with_after_settings(overrides: dict[str, Any], values: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The form's overrides plus this group's settings under :data:`KEY`."""
    return {**overrides, KEY: overrides_from(values)}
