"""A Hub model card as safe HTML: front matter left out, the common Markdown rendered, relative images
made absolute, and anything that could run in the page removed by the same sanitiser as Civitai's."""

from __future__ import annotations

import pytest

from model_workbench.huggingface.responses import strip_front_matter
from model_workbench.ui import markdown_view
from model_workbench.ui.markdown_view import card_html

CARD = """---
license: openrail++
base_model: stabilityai/stable-diffusion-xl-base-1.0
instance_prompt: pixel art
---
# Pixel LoRA

A **pixel art** LoRA for *SDXL*. Use `pixel art` in the prompt.

![sample](images/sample.png)

- works at weight 0.8
- [see the repo](https://huggingface.co/org/pixel)

```python
pipe.load_lora_weights("org/pixel")
```

<script>alert(1)</script>
<img src="x" onerror="alert(2)">
[click](javascript:alert(3))
"""


@pytest.fixture(params=["builtin", "package"])
def renderer(request, monkeypatch):
    if request.param == "builtin":
        monkeypatch.setattr(markdown_view, "_has_markdown_package", lambda: False)
    elif not markdown_view._has_markdown_package():
        pytest.skip("the markdown package is not installed here")
    return request.param


def test_front_matter_is_not_part_of_the_card():
    assert strip_front_matter(CARD).startswith("# Pixel LoRA")
    assert strip_front_matter("# no header\n---\nx") == "# no header\n---\nx"


def test_the_card_is_rendered(renderer):
    out = card_html(CARD, base_url="https://hf-mirror.com/org/pixel/resolve/abc123")
    assert "license:" not in out and "<h1>Pixel LoRA</h1>" in out
    assert "<strong>pixel art</strong>" in out and "<em>SDXL</em>" in out and "<code>pixel art</code>" in out
    assert 'src="https://hf-mirror.com/org/pixel/resolve/abc123/images/sample.png"' in out
    assert "<li>works at weight 0.8</li>" in out
    assert 'href="https://huggingface.co/org/pixel"' in out
    assert "pipe.load_lora_weights(&quot;org/pixel&quot;)" in out or 'pipe.load_lora_weights("org/pixel")' in out


def test_nothing_in_a_card_can_run(renderer):
    out = card_html(CARD)
    assert "<script" not in out and "alert(1)" not in out
    assert "onerror" not in out and "javascript:" not in out


def test_an_empty_card_is_nothing():
    assert card_html("") == "" and card_html("---\nlicense: mit\n---\n") == ""
