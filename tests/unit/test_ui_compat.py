"""The gradio 3/4 compatibility helpers give the same answers whatever shape gradio hands over."""

from __future__ import annotations

from types import SimpleNamespace

from model_workbench.ui import compat


def test_js_kwarg_matches_the_installed_gradio():
    key = "js" if compat.IS_GRADIO_4 else "_js"
    assert compat.js_kwarg("() => 1") == {key: "() => 1"}


def test_as_path_accepts_every_file_value_shape():
    assert compat.as_path(None) is None
    assert compat.as_path("/tmp/a.png") == "/tmp/a.png"
    assert compat.as_path(SimpleNamespace(name="/tmp/b.png")) == "/tmp/b.png"
    assert compat.as_path({"name": "/tmp/c.png"}) == "/tmp/c.png"
    assert compat.as_path({"path": "/tmp/d.png"}) == "/tmp/d.png"
    assert compat.as_paths([SimpleNamespace(name="/a"), "/b", None]) == ["/a", "/b"]


def test_gallery_items_normalise_gradio3_dicts_and_gradio4_tuples():
    gradio3 = [{"name": "/tmp/1.png", "data": None, "is_file": True, "caption": "one"}]
    gradio4 = [({"path": "/tmp/2.png"}, "two"), ("/tmp/3.png", None)]
    assert compat.gallery_items(gradio3) == [("/tmp/1.png", "one")]
    assert compat.gallery_items(gradio4) == [("/tmp/2.png", "two"), ("/tmp/3.png", None)]
    assert compat.gallery_items(None) == []


def test_dropdown_allows_custom_values_only_when_single_choice():
    single = compat.dropdown(["a"], value="later", label="x")
    multi = compat.dropdown(["a"], value=["a"], label="y", multiselect=True)
    assert single.allow_custom_value is True
    assert multi.multiselect is True
