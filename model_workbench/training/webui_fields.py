"""A version's kind and its WebUI fields, as stored in the version's ``config.json``, checked on the way in.

``config.json`` of an embedding or hypernetwork version holds ``{"kind": "embedding", "fields": {…}}``
(a LoRA version has no ``kind``: versions made before kinds existed stay LoRA). The fields are those of
:mod:`.webui_kinds`, written as plain JSON; :func:`fields_from_dict` turns JSON back into them and
refuses, with a sentence, what WebUI's trainer would refuse later (or, worse, accept and misuse):

- names: letters (any language), digits, ``-``, ``_``, ``.`` (WebUI silently drops every other
  character; an embedding's name is the word typed in prompts, so it has no spaces either);
- a learning rate or a schedule read exactly as WebUI's ``LearnScheduleIterator`` reads it;
- vectors per token 1–75, a layer structure that starts and ends with 1, a dropout structure of as
  many probabilities in [0, 1) as it has layers, and a template among the host's templates.

Pure: no torch, no ``modules``.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from .webui_kinds import (
    CLIP_GRAD_MODES,
    HYPERNETWORK_INITIALISATIONS,
    HYPERNETWORK_SIZES,
    LATENT_SAMPLING_METHODS,
    EmbeddingFields,
    HypernetworkFields,
    VersionKind,
    WebuiTrainingFields,
)

KIND_KEY = "kind"
FIELDS_KEY = "fields"
MAX_VECTORS = 75  # WebUI's slider; one prompt chunk holds 75 tokens
NAME_LIMIT = 64

MSG_KIND_UNKNOWN = "The version kind {kind!r} is not known; choose lora, embedding or hypernetwork."
MSG_FIELDS_NOT_OBJECT = "The settings must be a JSON object."
MSG_FIELD_UNKNOWN = "Unknown settings: {keys}."
MSG_FIELD_KIND = "'{name}' must be {what}."
MSG_NAME_EMPTY = "Enter a name for the {kind}."
MSG_NAME_TOO_LONG = "The name is too long; use at most {limit} characters."
MSG_NAME_CHARS = ("The name {name!r} may only hold letters, digits, '-', '_' and '.' "
                  "(it is the word written in prompts); {char!r} is not allowed.")
MSG_VECTORS = "Vectors per token must be a whole number from 1 to {limit} (got {value})."
MSG_LEARN_RATE = ("The learning rate {text!r} is not understood: write a number such as 0.005, or a schedule such "
                  "as 0.005:100, 1e-3:1000, 1e-5 (a rate until a step, the last rate to the end).")
MSG_POSITIVE = "'{name}' must be at least {minimum} (got {value})."
MSG_CHOICE = "'{name}' must be one of {choices} (got {value!r})."
MSG_SIZE_MULTIPLE = "Width and height must be multiples of 8 (got {width}×{height})."
MSG_TAG_DROPOUT = "Tag dropout must be between 0 and 1 (got {value})."
MSG_LAYER_STRUCTURE = ("The layer structure {text!r} is not understood: write numbers separated by commas that "
                       "start and end with 1, such as 1, 2, 1.")
MSG_DROPOUT_STRUCTURE = ("The dropout structure {text!r} must be one number per layer ({count}), each 0 or more and "
                         "below 1, the first and last 0, such as 0, 0.1, 0.")
MSG_SIZES = "Choose at least one hypernetwork size: a whole number such as {choices}."
MSG_TEMPLATE = "The prompt template {name!r} is not one of WebUI's templates: {choices}."


class KindFieldsError(ValueError):
    """A version's kind or fields cannot be used; the message says what to change."""


# --- the kind ----------------------------------------------------------------------------------


def parse_kind(value: Any) -> VersionKind:
    """``"embedding"`` → VersionKind.EMBEDDING; None or "" → LoRA; anything else refused."""
    if value is None or value == "":
        return VersionKind.LORA
    if isinstance(value, VersionKind):
        return value
    try:
        return VersionKind(str(value).strip().lower())
    except ValueError:
        raise KindFieldsError(MSG_KIND_UNKNOWN.format(kind=value)) from None


def version_kind(config: dict[str, Any]) -> VersionKind:
    """The kind a version's stored config says (no ``kind``: LoRA)."""
    return parse_kind(config.get(KIND_KEY))


# --- names, rates, structures ---------------------------------------------------------------


def check_network_name(name: Any, kind: VersionKind) -> str:
    """The cleaned name (trimmed, NFC) or KindFieldsError: no separators, no spaces, nothing WebUI drops."""
    cleaned = unicodedata.normalize("NFC", str(name or "")).strip()
    if not cleaned:
        raise KindFieldsError(MSG_NAME_EMPTY.format(kind=kind.value))
    if len(cleaned) > NAME_LIMIT:
        raise KindFieldsError(MSG_NAME_TOO_LONG.format(limit=NAME_LIMIT))
    for ch in cleaned:
        # WebUI keeps only x.isalnum() or "._- "; a space would split the trigger word in a prompt.
        if not (ch.isalnum() or ch in "._-"):
            raise KindFieldsError(MSG_NAME_CHARS.format(name=cleaned, char=ch))
    return cleaned


def parse_learn_rate(text: str, max_steps: int) -> list[tuple[float, int]]:
    """``(rate, until step)`` pairs, read the way WebUI's ``LearnScheduleIterator`` reads them.

    ``rate:step`` pairs separated by commas, ``-1`` meaning "to the end"; a rate without a step runs to
    ``max_steps`` and ends the list; a step beyond ``max_steps`` is cut to it and ends the list.
    """
    pairs: list[tuple[float, int]] = []
    try:
        for part in str(text).split(","):
            if not part.strip():
                continue
            pieces = part.split(":")
            if len(pieces) == 2:
                rate, step = float(pieces[0]), int(pieces[1])
                if step == -1:
                    pairs.append((rate, max_steps))
                    break
                if step > 0:
                    pairs.append((rate, min(step, max_steps)))
                    if step > max_steps:
                        break
            elif len(pieces) == 1:
                pairs.append((float(pieces[0]), max_steps))
                break
            else:
                raise ValueError(part)
    except ValueError:
        raise KindFieldsError(MSG_LEARN_RATE.format(text=text)) from None
    if not pairs or any(not rate > 0 for rate, _ in pairs):
        raise KindFieldsError(MSG_LEARN_RATE.format(text=text))
    return pairs


def parse_layer_structure(text: str) -> list[float]:
    """``"1, 2, 1"`` → [1.0, 2.0, 1.0]; must start and end with 1 (WebUI asserts it)."""
    try:
        values = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise KindFieldsError(MSG_LAYER_STRUCTURE.format(text=text)) from None
    if len(values) < 2 or values[0] != 1 or values[-1] != 1 or any(v <= 0 for v in values):
        raise KindFieldsError(MSG_LAYER_STRUCTURE.format(text=text))
    return values


def parse_dropout_structure(text: str, layers: int) -> list[float]:
    """One dropout probability per layer, in [0, 1), the first and last 0 (WebUI's rules)."""
    try:
        values = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        values = []
    if (len(values) != layers or values[0] != 0 or values[-1] != 0
            or any(not 0 <= v < 1 for v in values)):
        raise KindFieldsError(MSG_DROPOUT_STRUCTURE.format(text=text, count=layers))
    return values


# --- JSON ⇄ fields --------------------------------------------------------------------------


def fields_to_dict(fields: EmbeddingFields | HypernetworkFields) -> dict[str, Any]:
    """Plain JSON of the fields (``training`` nested, tuples as lists)."""
    data = dataclasses.asdict(fields)
    if "sizes" in data:
        data["sizes"] = list(data["sizes"])
    return data


_TYPES: dict[type, tuple[str, Any]] = {
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)
          or isinstance(v, float) and v.is_integer()),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    bool: ("true or false", lambda v: isinstance(v, bool)),
    str: ("text", lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool)),
}


def _typed(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """``data`` checked against the dataclass ``cls``'s field types; unknown keys refused."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in data if k not in fields)
    if unknown:
        raise KindFieldsError(MSG_FIELD_UNKNOWN.format(keys=", ".join(f"{where}{k}" for k in unknown)))
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = {"int": int, "float": float, "bool": bool, "str": str}.get(str(fields[key].type))
        if kind is None:
            out[key] = value  # nested or tuple fields: checked by the caller
            continue
        what, fits = _TYPES[kind]
        if not fits(value):
            raise KindFieldsError(MSG_FIELD_KIND.format(name=where + key, what=what))
        out[key] = kind(value) if kind is not str else str(value)
    return out


def _at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise KindFieldsError(MSG_POSITIVE.format(name=name, minimum=minimum, value=value))


def _choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise KindFieldsError(MSG_CHOICE.format(name=name, choices=", ".join(choices), value=value))


def _training(data: Any, default: WebuiTrainingFields, templates: Sequence[str]) -> WebuiTrainingFields:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KindFieldsError(MSG_FIELD_KIND.format(name="training", what="a JSON object"))
    training = dataclasses.replace(default, **_typed(WebuiTrainingFields, data, "training."))
    for name in ("batch_size", "gradient_step", "steps"):
        _at_least(f"training.{name}", getattr(training, name), 1)
    for name in ("save_every", "create_image_every"):
        _at_least(f"training.{name}", getattr(training, name), 0)
    if training.width < 8 or training.height < 8 or training.width % 8 or training.height % 8:
        raise KindFieldsError(MSG_SIZE_MULTIPLE.format(width=training.width, height=training.height))
    if not 0 <= training.tag_drop_out <= 1:
        raise KindFieldsError(MSG_TAG_DROPOUT.format(value=training.tag_drop_out))
    _choice("training.latent_sampling_method", training.latent_sampling_method, LATENT_SAMPLING_METHODS)
    _choice("training.clip_grad_mode", training.clip_grad_mode, CLIP_GRAD_MODES)
    parse_learn_rate(training.learn_rate, training.steps)
    check_template(training.template_file, templates)
    return training


def check_template(name: str, templates: Sequence[str]) -> str:
    """``name`` when the host lists no templates (it cannot tell) or lists it; else KindFieldsError."""
    if templates and name not in templates:
        raise KindFieldsError(MSG_TEMPLATE.format(name=name, choices=", ".join(templates)))
    return name


def fields_from_dict(kind: VersionKind | str, data: Any, templates: Sequence[str] = (),
                     activations: Sequence[str] = ()) -> EmbeddingFields | HypernetworkFields:
    """The fields of ``kind`` from JSON, every value checked; absent values take WebUI's defaults.

    ``templates`` are the host's prompt templates (``host.prompt_templates()``) and ``activations`` its
    hypernetwork activation functions; empty means "the host cannot tell", and any name is kept.
    """
    kind = parse_kind(kind)
    if not isinstance(data, dict):
        raise KindFieldsError(MSG_FIELDS_NOT_OBJECT)
    data = dict(data)
    training_data = data.pop("training", None)
    if kind is VersionKind.EMBEDDING:
        values = _typed(EmbeddingFields, data, "")
        values["name"] = check_network_name(values.get("name"), kind)
        default = EmbeddingFields(name=values["name"])
        fields = dataclasses.replace(default, **values)
        if not 1 <= fields.vectors_per_token <= MAX_VECTORS:
            raise KindFieldsError(MSG_VECTORS.format(limit=MAX_VECTORS, value=fields.vectors_per_token))
        return dataclasses.replace(fields, training=_training(training_data, default.training, templates))
    if kind is VersionKind.HYPERNETWORK:
        sizes = data.pop("sizes", None)
        values = _typed(HypernetworkFields, data, "")
        values["name"] = check_network_name(values.get("name"), kind)
        default = HypernetworkFields(name=values["name"])
        fields = dataclasses.replace(default, **values)
        if sizes is not None:
            # WebUI offers its usual widths but its API takes any: the layers are keyed by the width of the
            # cross-attention context (768 for SD1, 1024 for SD2), which a small or unusual model may not share.
            if not isinstance(sizes, list) or not sizes or not all(str(s).strip().isdigit() and int(s) > 0
                                                                    for s in sizes):
                raise KindFieldsError(MSG_SIZES.format(choices=", ".join(HYPERNETWORK_SIZES)))
            fields = dataclasses.replace(fields, sizes=tuple(str(int(s)) for s in sizes))
        layers = parse_layer_structure(fields.layer_structure)
        if fields.use_dropout:
            parse_dropout_structure(fields.dropout_structure, len(layers))
        if activations:
            _choice("activation", fields.activation, activations)
        _choice("weight_init", fields.weight_init, HYPERNETWORK_INITIALISATIONS)
        return dataclasses.replace(fields, training=_training(training_data, default.training, templates))
    raise KindFieldsError(MSG_KIND_UNKNOWN.format(kind=kind.value))


def default_fields(kind: VersionKind | str, name: str) -> EmbeddingFields | HypernetworkFields:
    """WebUI's defaults for a new version of ``kind`` named ``name`` (the form's starting values)."""
    kind = parse_kind(kind)
    return EmbeddingFields(name=name) if kind is VersionKind.EMBEDDING else HypernetworkFields(name=name)


def kind_config(fields: EmbeddingFields | HypernetworkFields) -> dict[str, Any]:
    """The ``config.json`` of a version that trains ``fields``."""
    kind = VersionKind.EMBEDDING if isinstance(fields, EmbeddingFields) else VersionKind.HYPERNETWORK
    return {KIND_KEY: kind.value, FIELDS_KEY: fields_to_dict(fields)}


def stored_fields(config: dict[str, Any], templates: Sequence[str] = ()) -> EmbeddingFields | HypernetworkFields:
    """The fields a non-LoRA version's config holds, checked (a hand-edited file is refused with the reason).

    The template is not checked against the host's list here: a version made on another host keeps it.
    """
    return fields_from_dict(version_kind(config), config.get(FIELDS_KEY) or {}, templates)


_TEMPLATE_WORD = re.compile(r"\[(name|filewords)\]")


def template_prompts(template_text: str, name: str, filewords: str = "") -> list[str]:
    """The prompts of a WebUI prompt template with ``[name]`` and ``[filewords]`` filled (WebUI's own
    placeholders), blank lines left out, each once, in order."""
    prompts: list[str] = []
    for line in template_text.splitlines():
        line = line.strip()
        if not line:
            continue
        filled = _TEMPLATE_WORD.sub(lambda m: name if m.group(1) == "name" else filewords, line)
        filled = re.sub(r"\s*,\s*,", ",", re.sub(r"\s+", " ", filled)).strip(" ,")
        if filled and filled not in prompts:
            prompts.append(filled)
    return prompts
