"""Hub links pasted into the search box, and the Hub endpoint setting."""

from __future__ import annotations

import pytest

from model_workbench.civitai.endpoints import AddressRefused
from model_workbench.huggingface import messages as m
from model_workbench.huggingface.endpoint import effective_endpoint, normalize_endpoint, same_origin
from model_workbench.huggingface.links import HubLink, parse_hub_link

MIRROR = "http://127.0.0.1:8123/hf"


@pytest.mark.parametrize("text, expected", [
    ("https://huggingface.co/fake-org/castle-lora", HubLink("fake-org/castle-lora")),
    ("https://huggingface.co/fake-org/castle-lora/", HubLink("fake-org/castle-lora")),
    ("huggingface.co/fake-org/castle-lora", HubLink("fake-org/castle-lora")),
    ("https://www.huggingface.co/fake-org/castle-lora", HubLink("fake-org/castle-lora")),
    ("https://hf.co/fake-org/castle-lora", HubLink("fake-org/castle-lora")),
    ("https://huggingface.co/fake-org/castle-lora/tree/main", HubLink("fake-org/castle-lora", "main")),
    ("https://huggingface.co/fake-org/castle-lora/tree/v1.0/images", HubLink("fake-org/castle-lora", "v1.0")),
    ("https://huggingface.co/fake-org/castle-lora/blob/main/castle_lora.safetensors",
     HubLink("fake-org/castle-lora", "main", "castle_lora.safetensors")),
    ("https://huggingface.co/fake-org/castle-lora/resolve/main/images/castle_preview.png?download=true",
     HubLink("fake-org/castle-lora", "main", "images/castle_preview.png")),
    ("https://huggingface.co/fake-org/castle-lora/resolve/refs%2Fpr%2F1/a%20b.safetensors",
     HubLink("fake-org/castle-lora", "refs/pr/1", "a b.safetensors")),
    ("https://huggingface.co/fake-org/castle-lora/commit/0123456789abcdef0123456789abcdef01234567",
     HubLink("fake-org/castle-lora", "0123456789abcdef0123456789abcdef01234567")),
    ("https://hf-mirror.com/stabilityai/stable-diffusion-xl-base-1.0/blob/main/sd_xl_base_1.0.safetensors",
     HubLink("stabilityai/stable-diffusion-xl-base-1.0", "main", "sd_xl_base_1.0.safetensors")),
    ("hf-mirror.com/nerijs/pixel-art-xl", HubLink("nerijs/pixel-art-xl")),
    (f"{MIRROR}/fake-org/castle-lora/resolve/main/castle_lora.safetensors",
     HubLink("fake-org/castle-lora", "main", "castle_lora.safetensors")),
    ("https://huggingface.co/api/models/fake-org/castle-lora/revision/dev", HubLink("fake-org/castle-lora", "dev")),
    ("fake-org/castle-lora", HubLink("fake-org/castle-lora")),
    ("  black-forest-labs/FLUX.1-dev ", HubLink("black-forest-labs/FLUX.1-dev")),
    ("https://huggingface.co/fake-org/castle-lora/discussions/3", HubLink("fake-org/castle-lora")),
])
def test_hub_links_name_repo_revision_and_file(text, expected):
    assert parse_hub_link(text, [MIRROR]) == expected


@pytest.mark.parametrize("text", [
    "", "castle", "castle lora", "https://huggingface.co/models?pipeline_tag=text-to-image",
    "https://huggingface.co/datasets/org/data", "https://huggingface.co/spaces/org/app",
    "https://huggingface.co/fake-org", "https://civitai.com/models/4823/deliberate", "civitai.com/models",
    "https://example.com/fake-org/castle-lora", "http://127.0.0.1:8124/hf/fake-org/castle-lora",
    "ftp://huggingface.co/a/b", "a/b/c", "https://huggingface.co:notaport/a/b",
])
def test_other_text_is_a_search(text):
    assert parse_hub_link(text, [MIRROR]) is None


def test_a_mirror_counts_only_when_it_is_the_configured_endpoint():
    assert parse_hub_link(f"{MIRROR}/fake-org/castle-lora") is None
    assert parse_hub_link(f"{MIRROR}/fake-org/castle-lora", [""]) is None


@pytest.mark.parametrize("text, expected", [
    ("", ""), ("   ", ""), ("https://hf-mirror.com", "https://hf-mirror.com"), ("hf-mirror.com/", "https://hf-mirror.com"),
    ("HTTP://127.0.0.1:8080/", "http://127.0.0.1:8080"), ("https://huggingface.co/api", "https://huggingface.co"),
    ("https://mirror.example.org/hf/", "https://mirror.example.org/hf"),
])
def test_endpoint_is_normalised(text, expected):
    assert normalize_endpoint(text) == expected


def test_empty_endpoint_means_the_hub():
    assert effective_endpoint("") == "https://huggingface.co"
    assert effective_endpoint(None) == "https://huggingface.co"
    assert effective_endpoint("hf-mirror.com") == "https://hf-mirror.com"


@pytest.mark.parametrize("text", ["not a url", "ftp://hf-mirror.com", "https://", "https://hf mirror.com",
                                  "https://hf-mirror.com:99999", "https://hf-mirror.com/?q=1"])
def test_bad_endpoint_is_refused_with_a_sentence(text):
    with pytest.raises(AddressRefused) as caught:
        normalize_endpoint(text)
    assert caught.value.template == m.ENDPOINT_REFUSED
    assert str(caught.value).startswith("“") and "hf-mirror.com" in str(caught.value)


def test_same_origin_compares_scheme_host_and_port():
    assert same_origin("https://huggingface.co/api/models", "")
    assert same_origin("https://hf-mirror.com:443/x", "https://hf-mirror.com")
    assert not same_origin("https://cdn-lfs.hf.co/x", "")
    assert not same_origin("http://hf-mirror.com/x", "https://hf-mirror.com")
