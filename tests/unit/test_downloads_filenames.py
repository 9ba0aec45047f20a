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


@pytest.mark.parametrize("stem", ["城" * 300, "a" * 300, "Ünïcödé-" * 40], ids=["cjk", "ascii", "mixed"])
def test_long_names_leave_room_for_every_file_made_beside_them(stem):
    from model_workbench.downloads.filenames import FILESYSTEM_NAME_BYTES, LONGEST_SIDE_SUFFIX

    name = sanitize_filename(stem + ".safetensors")
    assert name.endswith(".safetensors")
    name.encode("utf-8")  # cut on a character boundary: still valid text
    model_stem = name[: -len(".safetensors")]
    beside = [name + ".part", name + ".part.json", name + ".part.json.abcdefgh.tmp", numbered_name(name, 99),
              model_stem + ".preview.png", model_stem + ".json", model_stem + ".civitai.info", model_stem + ".hf.json"]
    for other in beside:
        assert len(other.encode("utf-8")) <= FILESYSTEM_NAME_BYTES, other
    assert len(name.encode("utf-8")) + len(LONGEST_SIDE_SUFFIX.encode()) <= FILESYSTEM_NAME_BYTES


def test_shortened_names_stay_unique_and_stable():
    first = sanitize_filename("x" * 300 + "_one.safetensors")
    second = sanitize_filename("x" * 300 + "_two.safetensors")
    assert first != second  # the same long prefix, different endings: a hash of the full name tells them apart
    assert sanitize_filename("x" * 300 + "_one.safetensors") == first  # the same name always shortens alike
    assert sanitize_filename("short.safetensors") == "short.safetensors"


def test_an_absurd_extension_is_not_kept_whole():
    name = sanitize_filename("model." + "e" * 300)
    assert len(name.encode("utf-8")) <= 230


def test_bidi_controls_are_stripped_from_file_names():
    from model_workbench.bidi import BIDI_CONTROLS

    assert sanitize_filename("invoice_\u202egnp.safetensors") == "invoice_gnp.safetensors"
    every = "".join(sorted(BIDI_CONTROLS))
    assert sanitize_filename(f"a{every}b.pt") == "ab.pt"
    assert sanitize_filename("\u202e\u2066") == "download.bin"


@pytest.mark.parametrize("wanted, expected", [
    ("", "castle.safetensors"),
    ("renamed", "renamed.safetensors"),
    ("Renamed.SafeTensors", "Renamed.SafeTensors"),
    ("v1.5", "v1.5.safetensors"),  # ".5" is a version, not an extension
    ("a:b", "a_b.safetensors"),  # made legal, and the box shows it
])
def test_a_typed_file_name_keeps_the_files_type(wanted, expected):
    from model_workbench.downloads.filenames import user_filename

    assert user_filename(wanted, "castle.safetensors") == expected


@pytest.mark.parametrize("wanted, words", [
    ("evil.exe", "must end in .safetensors"),
    ("model.ckpt", "must end in .safetensors"),
    ("../escape", "only a name"),
    ("/tmp/abs", "only a name"),
    ("C:\\Windows\\x", "only a name"),
    ("sub/name", "only a name"),
    ("..", "is not a file name"),
])
def test_a_typed_file_name_that_would_mislead_is_refused(wanted, words):
    from model_workbench.downloads.filenames import UnsafeNameError, user_filename

    with pytest.raises(UnsafeNameError, match=words):
        user_filename(wanted, "castle.safetensors")
