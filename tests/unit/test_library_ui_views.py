"""The Library table: status badges, actions per kind, escaping, summary and hash progress."""

from __future__ import annotations

from model_workbench.library.hashing import HashProgress
from model_workbench.ui.library_views import hash_progress_html, library_html, prompt_text


def row(name="castle", kind="lora", status="matched", **kw) -> dict:
    values = {"kind": kind, "path": f"/models/Lora/{name}.safetensors", "name": name,
              "filename": f"{name}.safetensors", "size": 2 << 20, "base_model": "SDXL 1.0", "status": status,
              "preview_path": None, "has_user_metadata": True, "has_civitai_info": False, "sha256": "ab" * 32,
              "civitai": {"model_name": "Castle", "version_name": "v1", "trained_words": ["castle style"],
                          "update_available": status == "update_available", "newest_version_name": "v2",
                          "base_model": "SDXL 1.0"},
              "civitai_url": "https://civitai.com/models/1?modelVersionId=2", "preferred_weight": 0.0}
    values.update(kw)
    return values


def test_rows_show_status_links_and_send_buttons():
    html = library_html([row(), row("tower", status="update_available"), row("mine", status="not_on_civitai",
                                                                             civitai=None, civitai_url=None)],
                        can_send=True)
    assert "3 models · 1 On Civitai · 1 Update available · 1 Not on Civitai" in html
    assert html.index("tower") < html.index("castle") < html.index("mine")  # updates first
    assert "href='https://civitai.com/models/1?modelVersionId=2'" in html
    assert "modelWorkbench.sendToPrompt(&quot;&lt;lora:castle:1&gt;, castle style&quot;)" in html
    assert "Newest version" in html and "v2" in html
    assert "mw-badge-update" in html and "mw-badge-installed" in html


def test_standalone_rows_offer_copy_only():
    html = library_html([row()], can_send=False)
    assert "sendToPrompt" not in html and "copyText" in html


def test_prompt_text_per_kind_uses_the_preferred_weight():
    assert prompt_text(row(preferred_weight=0.7)) == "<lora:castle:0.7>, castle style"
    assert prompt_text(row(kind="embedding", path="/e/easyneg.pt", civitai=None)) == "easyneg"
    assert prompt_text(row(kind="checkpoint", civitai=None)) is None


def test_empty_library_and_escaping():
    assert "No models found in the model folders." in library_html([])
    html = library_html([row(name="<img src=x onerror=1>")])
    assert "<img src=x" not in html


def test_hash_progress_bar():
    html = hash_progress_html(HashProgress(files_done=3, files_total=10, bytes_done=30 << 20, bytes_total=100 << 20))
    assert "Hashing 3 of 10 files" in html and "width:30.0%" in html


def hub_row(name="pixel", update=None, **kw) -> dict:
    hub = {"repo_id": "org/pixel-lora", "revision": "a" * 40, "path": f"{name}.safetensors",
           "url": "https://hf-mirror.com/org/pixel-lora", "update_available": update, "newest_revision": "b" * 40}
    return row(name, status="not_on_civitai", civitai=None, civitai_url=None, hub=hub, **kw)


def test_each_row_says_where_its_file_came_from():
    html = library_html([row(), hub_row(), row("mine", status="not_on_civitai", civitai=None, civitai_url=None)])
    assert "<th>Source</th>" in html
    assert "data-source='hub'" in html and "data-source='civitai'" in html and "data-source=''" in html
    hub_part = html[html.index("data-source='hub'"):]
    hub_part = hub_part[:hub_part.index("</tr>")]
    assert "<td class='mw-lib-source'>Hugging Face</td>" in hub_part
    assert "href='https://hf-mirror.com/org/pixel-lora'" in hub_part and "Open on Hugging Face" in hub_part
    assert "Not on Civitai" not in hub_part and "From Hugging Face" in hub_part  # not checked yet
    assert ".hf.json" in hub_part and "org/pixel-lora – pixel.safetensors" in hub_part


def test_a_hub_file_with_a_newer_revision_says_so():
    newer = library_html([hub_row(update=True)])
    assert "Newer revision on the Hub" in newer and "mw-badge-update" in newer and "bbbbbbbbbb" in newer
    same = library_html([hub_row(update=False)])
    assert "Up to date on the Hub" in same and "Newer revision" not in same
