"""File names from Content-Disposition and the API, sanitised for every OS."""

from __future__ import annotations

import pytest

from model_workbench.downloads.filenames import (
    filename_from_content_disposition,
    header_text,
    numbered_name,
    sanitize_filename,
)


@pytest.mark.parametrize("value, expected", [
    ('attachment; filename="model.safetensors"', "model.safetensors"),
    ("attachment; filename=model.ckpt", "model.ckpt"),
    ('attachment; filename="Schloß 城.safetensors"'.encode(), "Schloß 城.safetensors"),  # raw UTF-8 bytes
    ('attachment; filename="Schloß 城.safetensors"'.encode().decode("latin-1"), "Schloß 城.safetensors"),
    ("attachment; filename=\"fallback.bin\"; filename*=UTF-8''%E5%9F%8E%20x.safetensors", "城 x.safetensors"),
    ('attachment; filename="with \\"quotes\\".pt"', 'with "quotes".pt'),
    ("inline", None), ("", None), (None, None),
])
def test_content_disposition(value, expected):
    assert filename_from_content_disposition(value) == expected


def test_header_text_falls_back_to_latin1():
    assert header_text(b"caf\xe9") == "café"


@pytest.mark.parametrize("name, expected", [
    ("model.safetensors", "model.safetensors"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\evil.dll", "evil.dll"),
    ("a:b*c?d\"e<f>g|h.pt", "a_b_c_d_e_f_g_h.pt"),
    ("CON.safetensors", "_CON.safetensors"),
    ("lpt1", "_lpt1"),
    ("..", "fallback.bin"),
    ("", "fallback.bin"),
    ("name. ", "name"),
    ("tab\there\x00.pt", "tab_here_.pt"),
    ("Château 城 v2.safetensors", "Château 城 v2.safetensors"),
])
def test_sanitize(name, expected):
    assert sanitize_filename(name, "fallback.bin") == expected


def test_sanitize_normalises_and_limits_length():
    decomposed = "Cha\u0302teau.pt"
    assert sanitize_filename(decomposed) == "Château.pt"
    long = "城" * 200 + ".safetensors"
    out = sanitize_filename(long)
    assert out.endswith(".safetensors") and len(out.encode()) <= 240


def test_numbered_name():
    assert numbered_name("a.safetensors", 2) == "a (2).safetensors" and numbered_name("noext", 3) == "noext (3)"
