"""Checks the JSON bodies of the HTTP API against a small schema: field → expected kind and range.

One place for every route (``routes.py``) and for the training ``config`` object (``training.session``),
so a wrong type is always answered the same way: a sentence that names the field, never Python's
words ("invalid literal for int()"). Hand-written rather than pydantic: the app runs under pydantic 1
(A1111's fastapi 0.94) and pydantic 2 (Forge), whose errors read differently.

Pure: no FastAPI, no gradio. Routes turn :class:`BodyError` into a 400.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MSG_NOT_AN_OBJECT = "The request body must be a JSON object."
MSG_REQUIRED = "'{name}' is required."
MSG_WRONG_KIND = "'{name}' must be {kind}."
MSG_TOO_SMALL = "'{name}' must be at least {minimum}."
MSG_TOO_LARGE = "'{name}' must be at most {maximum}."


class BodyError(ValueError):
    """A body that does not fit its schema; the message names the field and says what it must be."""


def _is_number(value: Any) -> bool:
    # JSON's true/false arrive as bool, which Python counts as int: a number field must refuse them.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> tuple[bool, Any]:
    return isinstance(value, str), value


def _whole(value: Any) -> tuple[bool, Any]:
    # 20.0 is a whole number too (some clients write every number with a point).
    ok = _is_number(value) and float(value).is_integer()
    return ok, int(value) if ok else value


def _number(value: Any) -> tuple[bool, Any]:
    return _is_number(value), value


def _bool(value: Any) -> tuple[bool, Any]:
    return isinstance(value, bool), value


def _object(value: Any) -> tuple[bool, Any]:
    return isinstance(value, dict), value


def _texts(value: Any) -> tuple[bool, Any]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value), value


def _text_or_texts(value: Any) -> tuple[bool, Any]:
    return isinstance(value, str) or _texts(value)[0], value


def _text_or_numbers(value: Any) -> tuple[bool, Any]:
    if isinstance(value, list):
        ok = all(_is_number(v) for v in value)
        return ok, [float(v) for v in value] if ok else value
    return isinstance(value, str), value


def _text_or_whole(value: Any) -> tuple[bool, Any]:
    if isinstance(value, str):
        return True, value
    ok, whole = _whole(value)
    return ok, str(whole) if ok else value


# kind → (what the sentence says it must be, check returning (fits, cleaned value))
KINDS: dict[str, tuple[str, Callable[[Any], tuple[bool, Any]]]] = {
    "text": ("text", _text),
    "int": ("a whole number", _whole),
    "number": ("a number", _number),
    "bool": ("true or false", _bool),
    "object": ("a JSON object", _object),
    "texts": ("a list of texts", _texts),
    "text_or_texts": ("text or a list of texts", _text_or_texts),
    "text_or_numbers": ("text or a list of numbers", _text_or_numbers),
    "text_or_int": ("text or a whole number", _text_or_whole),
}


@dataclass(frozen=True)
class Field:
    """One field of a body: its kind (a key of :data:`KINDS`), whether it must be there, whether JSON
    ``null`` is allowed, an inclusive range for numbers, and the value used when it is absent."""

    kind: str
    required: bool = False
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


Schema = Mapping[str, Field]


def _bound(value: float) -> str:
    return f"{value:g}"


def check_field(name: str, value: Any, field: Field) -> Any:
    """``value`` cleaned (a whole number written as 4.0 becomes 4), or :class:`BodyError`."""
    if value is None:  # JSON null: "nothing" where that is allowed, else the default, else an error
        if field.nullable:
            return None
        if field.required:
            raise BodyError(MSG_REQUIRED.format(name=name))
        if field.default is not None:
            return field.default
    what, check = KINDS[field.kind]
    fits, clean = check(value)
    if not fits:
        raise BodyError(MSG_WRONG_KIND.format(name=name, kind=what + (" or null" if field.nullable else "")))
    if field.required and isinstance(clean, str) and not clean.strip():
        raise BodyError(MSG_REQUIRED.format(name=name))
    if _is_number(clean):
        if field.minimum is not None and clean < field.minimum:
            raise BodyError(MSG_TOO_SMALL.format(name=name, minimum=_bound(field.minimum)))
        if field.maximum is not None and clean > field.maximum:
            raise BodyError(MSG_TOO_LARGE.format(name=name, maximum=_bound(field.maximum)))
    return clean


# The txt2img fields a preview takes wherever it is asked for (POST /preview, preview after training),
# named and defaulted as in preview.plan.GenerationSettings.
GENERATION_FIELDS: Schema = {
    "negative_prompt": Field("text", default=""),
    "seed": Field("int", default=-1),
    "steps": Field("int", minimum=1, default=20),
    "sampler_name": Field("text", default="Euler a"),
    "cfg_scale": Field("number", default=7.0),
}


def validate_body(body: Any, schema: Schema, where: str = "") -> dict[str, Any]:
    """Every field of ``schema``, checked and cleaned; absent ones take their default.

    ``where`` names the object inside a body (``config``) so a message says ``'config.seed'``. Keys the
    schema does not know are left out of the answer (the caller decides whether they are an error).
    """
    if not isinstance(body, dict):
        raise BodyError(MSG_NOT_AN_OBJECT if not where else MSG_WRONG_KIND.format(name=where, kind="a JSON object"))
    out: dict[str, Any] = {}
    for name, field in schema.items():
        label = f"{where}.{name}" if where else name
        if name in body:
            out[name] = check_field(label, body[name], field)
        elif field.required:
            raise BodyError(MSG_REQUIRED.format(name=label))
        else:
            out[name] = field.default
    return out
