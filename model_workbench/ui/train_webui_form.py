"""The Train form of an Embedding or Hypernetwork version: WebUI's own fields under WebUI's own labels.

One set of components serves both kinds; the hypernetwork's create fields are shown for a hypernetwork
version only, and the learning rate is labelled as WebUI labels it for the kind. Values go to the
version's config through the core (``training.webui_fields``), which checks them and says what is wrong.
Labels are literal ``t("...")`` calls so the localisation test finds them.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from model_workbench.training.webui_fields import fields_to_dict
from model_workbench.training.webui_kinds import (
    CLIP_GRAD_MODES,
    HYPERNETWORK_ACTIVATIONS,
    HYPERNETWORK_INITIALISATIONS,
    HYPERNETWORK_SIZES,
    LATENT_SAMPLING_METHODS,
    EmbeddingFields,
    HypernetworkFields,
    VersionKind,
)
from model_workbench.ui.compat import dropdown
from model_workbench.ui.i18n import t

EMBEDDING_NAMES = ("name", "init_text", "vectors_per_token")
HYPERNETWORK_NAMES = ("name", "sizes", "layer_structure", "activation", "weight_init", "add_layer_norm",
                      "use_dropout", "dropout_structure")
TRAINING_NAMES = ("learn_rate", "clip_grad_mode", "clip_grad_value", "batch_size", "gradient_step", "template_file",
                  "width", "height", "varsize", "steps", "save_every", "use_weight", "shuffle_tags", "tag_drop_out",
                  "latent_sampling_method")
INT_NAMES = {"vectors_per_token", "batch_size", "gradient_step", "width", "height", "steps", "save_every"}
PREFIX = "mw_train_webui_"


def learn_rate_label(kind: VersionKind) -> str:
    return t("Hypernetwork Learning rate") if kind is VersionKind.HYPERNETWORK else t("Embedding Learning rate")


def start_label(kind: VersionKind) -> str:
    """The Start button's words for the kind (WebUI's own button names)."""
    return {VersionKind.EMBEDDING: t("Train Embedding"),
            VersionKind.HYPERNETWORK: t("Train Hypernetwork")}.get(kind, t("Start training"))


def build_webui_form(templates: list[str], activations: list[str] | None = None) -> dict[str, Any]:
    """Lay out the fields in the current gradio context; returns the components by field name."""
    f: dict[str, Any] = {}
    activations = activations or list(HYPERNETWORK_ACTIVATIONS)
    # The starting values are the core's (WebUI's defaults); a selected version's own values replace them.
    e, h = EmbeddingFields(name=""), HypernetworkFields(name="")
    d = e.training  # the embedding's: a hypernetwork version fills its own learning rate when chosen
    with gr.Row():
        # The name is the word typed in prompts (an embedding) or picked in <hypernet:name:1> (a hypernetwork).
        f["name"] = gr.Textbox(label=t("Name"), elem_id=PREFIX + "name",
                               info=t("The trigger word written in prompts."))
    with gr.Column(elem_id=PREFIX + "embedding_fields") as f["embedding_group"], gr.Row():
        f["init_text"] = gr.Textbox(label=t("Initialization text"), value=e.init_text, elem_id=PREFIX + "init_text")
        f["vectors_per_token"] = gr.Slider(1, 75, value=e.vectors_per_token, step=1, label=t("Number of vectors per token"),
                                           elem_id=PREFIX + "vectors_per_token")
    with gr.Column(elem_id=PREFIX + "hypernetwork_fields") as f["hypernetwork_group"]:
        f["sizes"] = gr.CheckboxGroup(list(HYPERNETWORK_SIZES), value=list(h.sizes),
                                      label=t("Modules"), elem_id=PREFIX + "sizes")
        with gr.Row():
            f["layer_structure"] = gr.Textbox(label=t("Enter hypernetwork layer structure"), value=h.layer_structure,
                                              placeholder=t("1st and last digit must be 1. ex:'1, 2, 1'"),
                                              elem_id=PREFIX + "layer_structure")
            f["activation"] = dropdown(activations, value=h.activation, label=t(
                "Select activation function of hypernetwork. Recommended : Swish / Linear(none)"),
                elem_id=PREFIX + "activation")
            f["weight_init"] = dropdown(list(HYPERNETWORK_INITIALISATIONS), value=h.weight_init, label=t(
                "Select Layer weights initialization. Recommended: Kaiming for relu-like, Xavier for sigmoid-like, "
                "Normal otherwise"), elem_id=PREFIX + "weight_init")
        with gr.Row():
            f["add_layer_norm"] = gr.Checkbox(label=t("Add layer normalization"), elem_id=PREFIX + "add_layer_norm")
            f["use_dropout"] = gr.Checkbox(label=t("Use dropout"), elem_id=PREFIX + "use_dropout")
            f["dropout_structure"] = gr.Textbox(label=t(
                "Enter hypernetwork Dropout structure (or empty). Recommended : 0~0.35 incrementing sequence: "
                "0, 0.05, 0.15"), value=h.dropout_structure, elem_id=PREFIX + "dropout_structure")
    with gr.Row():
        f["learn_rate"] = gr.Textbox(label=learn_rate_label(VersionKind.EMBEDDING), value=d.learn_rate,
                                     elem_id=PREFIX + "learn_rate",
                                     info=t("A number, or a schedule such as 0.005:100, 1e-3:1000, 1e-5"))
        f["clip_grad_mode"] = dropdown(list(CLIP_GRAD_MODES), value=d.clip_grad_mode, label=t("Gradient Clipping"),
                                       elem_id=PREFIX + "clip_grad_mode")
        f["clip_grad_value"] = gr.Textbox(label=t("Gradient clip value"), value=d.clip_grad_value, elem_id=PREFIX + "clip_grad_value")
    with gr.Row():
        f["batch_size"] = gr.Number(label=t("Batch size"), value=d.batch_size, precision=0, elem_id=PREFIX + "batch_size")
        f["gradient_step"] = gr.Number(label=t("Gradient accumulation steps"), value=d.gradient_step, precision=0,
                                       elem_id=PREFIX + "gradient_step")
        f["template_file"] = dropdown(templates, value=templates[0] if templates else None, label=t("Prompt template"),
                                      elem_id=PREFIX + "template_file")
    with gr.Row():
        f["width"] = gr.Number(label=t("Width"), value=d.width, precision=0, elem_id=PREFIX + "width")
        f["height"] = gr.Number(label=t("Height"), value=d.height, precision=0, elem_id=PREFIX + "height")
        f["varsize"] = gr.Checkbox(label=t("Do not resize images"), elem_id=PREFIX + "varsize")
    with gr.Row():
        f["steps"] = gr.Number(label=t("Max steps"), value=d.steps, precision=0, elem_id=PREFIX + "steps")
        f["save_every"] = gr.Number(label=t("Save a copy of embedding to log directory every N steps, 0 to disable"),
                                    value=d.save_every, precision=0, elem_id=PREFIX + "save_every")
        f["use_weight"] = gr.Checkbox(label=t("Use PNG alpha channel as loss weight"), elem_id=PREFIX + "use_weight")
    with gr.Row():
        f["shuffle_tags"] = gr.Checkbox(label=t("Shuffle tags by ',' when creating prompts."),
                                        elem_id=PREFIX + "shuffle_tags")
        f["tag_drop_out"] = gr.Slider(0, 1, value=d.tag_drop_out, step=0.1, label=t("Drop out tags when creating prompts."),
                                      elem_id=PREFIX + "tag_drop_out")
        f["latent_sampling_method"] = gr.Radio(list(LATENT_SAMPLING_METHODS), value=d.latent_sampling_method,
                                               label=t("Choose latent sampling method"),
                                               elem_id=PREFIX + "latent_sampling_method")
    return f


def value_names(kind: VersionKind) -> tuple[str, ...]:
    """The form's fields a version of ``kind`` keeps, in the order :func:`value_components` lists them."""
    return (EMBEDDING_NAMES if kind is VersionKind.EMBEDDING else HYPERNETWORK_NAMES) + TRAINING_NAMES


def all_names() -> tuple[str, ...]:
    """Every field of the form once: the inputs of the Start handler, whatever the kind."""
    return tuple(dict.fromkeys(EMBEDDING_NAMES + HYPERNETWORK_NAMES + TRAINING_NAMES))


def value_components(f: dict[str, Any]) -> list[Any]:
    return [f[name] for name in all_names()]


def form_data(kind: VersionKind, values: list[Any]) -> dict[str, Any]:
    """The form's values (in :func:`all_names` order) as the kind's fields in JSON, for the core to check
    (``webui_versions.save_kind_settings`` raises KindFieldsError with a sentence where one is wrong)."""
    by_name = dict(zip(all_names(), values, strict=True))
    data: dict[str, Any] = {}
    for name in value_names(kind):
        value = by_name[name]
        if name in INT_NAMES and value is not None and value != "":
            value = int(float(value))
        elif name == "tag_drop_out":
            value = float(value or 0)
        elif name == "sizes":
            value = list(value or [])
        elif isinstance(value, str):
            value = value.strip()
        data[name] = value
    training = {name: data.pop(name) for name in TRAINING_NAMES}
    return {**data, "training": training}


def form_updates(f: dict[str, Any], kind: VersionKind, fields: EmbeddingFields | HypernetworkFields | None) -> dict:
    """Show the form for ``kind`` (hidden for LoRA) filled with ``fields``."""
    webui = kind is not VersionKind.LORA
    out: dict[Any, Any] = {f["embedding_group"]: gr.update(visible=kind is VersionKind.EMBEDDING),
                           f["hypernetwork_group"]: gr.update(visible=kind is VersionKind.HYPERNETWORK),
                           f["learn_rate"]: gr.update(label=learn_rate_label(kind))}
    if not webui or fields is None:
        return out
    data = fields_to_dict(fields)
    data.update(data.pop("training"))
    for name in value_names(kind):
        value = data[name]
        out[f[name]] = gr.update(label=learn_rate_label(kind), value=value) if name == "learn_rate" else value
    return out
