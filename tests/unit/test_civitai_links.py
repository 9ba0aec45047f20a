"""Model links pasted into the search box: civitai.com/.red/.green pages, download URLs and AIRs."""

from __future__ import annotations

import pytest

from model_workbench.civitai.links import ModelLink, parse_model_link


@pytest.mark.parametrize("text, expected", [
    ("https://civitai.com/models/4823/deliberate", ModelLink(4823, None)),
    ("https://civitai.com/models/4823/deliberate?modelVersionId=5636", ModelLink(4823, 5636)),
    ("  https://www.civitai.com/models/4823?modelVersionId=5636&foo=1  ", ModelLink(4823, 5636)),
    ("https://civitai.red/models/4823/deliberate?modelVersionId=5636", ModelLink(4823, 5636)),
    ("https://civitai.green/models/4823", ModelLink(4823, None)),
    ("civitai.com/models/4823/deliberate", ModelLink(4823, None)),
    ("http://civitai.com/models/4823/", ModelLink(4823, None)),
    ("https://civitai.com/api/download/models/5636", ModelLink(None, 5636)),
    ("https://civitai.com/api/download/models/5636?type=Model&format=SafeTensor", ModelLink(None, 5636)),
    ("https://civitai.com/api/v1/models/4823", ModelLink(4823, None)),
    ("https://civitai.com/api/v1/model-versions/5636", ModelLink(None, 5636)),
    ("https://civitai.com/model-versions/5636", ModelLink(None, 5636)),
    ("urn:air:sd1:lora:civitai:4823@5636", ModelLink(4823, 5636)),
    ("urn:air:sdxl:checkpoint:civitai:4823", ModelLink(4823, None)),
    ("URN:AIR:flux1:lora:civitai:4823@5636.safetensors", ModelLink(4823, 5636)),
    ("air:sd1:lora:civitai:4823@5636", ModelLink(4823, 5636)),
])
def test_links_are_recognised(text, expected):
    assert parse_model_link(text) == expected


@pytest.mark.parametrize("text", [
    "deliberate", "castle style", "#anime", "@someone", "4823", "",
    "https://example.com/models/4823/deliberate",  # not Civitai: a search for these words
    "https://civitai.com.evil.example/models/4823",
    "https://civitai.com/user/someone", "https://civitai.com/models/", "https://civitai.com/models/abc",
    "urn:air:sd1:lora:huggingface:4823@5636",
])
def test_everything_else_is_a_search(text):
    assert parse_model_link(text) is None


def test_the_configured_site_is_recognised_too():
    assert parse_model_link("https://mirror.example:8443/models/7?modelVersionId=8") is None
    assert parse_model_link("https://mirror.example:8443/models/7?modelVersionId=8",
                            extra_sites=["https://mirror.example:8443"]) == ModelLink(7, 8)


def test_a_mirror_with_a_default_port_or_a_path_prefix_is_recognised_by_its_origin_and_path():
    assert parse_model_link("https://mirror.example/models/7", extra_sites=["https://mirror.example:443"]) == \
        ModelLink(7, None)
    assert parse_model_link("https://mirror.example.org/civitai/models/7?modelVersionId=9",
                            extra_sites=["https://mirror.example.org/civitai"]) == ModelLink(7, 9)
    # The same host outside the mirror's path is not Civitai.
    assert parse_model_link("https://mirror.example.org/models/7", extra_sites=["https://mirror.example.org/civitai"]) is None
    assert parse_model_link("http://mirror.example:8080/models/7", extra_sites=["http://mirror.example"]) is None
