"""Every recorded Hub response shape (tests/data/hf-samples) parses into the package's types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_workbench.huggingface.responses import (
    parse_model,
    parse_sibling,
    parse_tree_entry,
    preview_path,
    strip_front_matter,
)
from model_workbench.huggingface.types import HubModel

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "hf-samples"


def sample(name: str):
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def test_search_items_with_expand_carry_every_card_field():
    models = [parse_model(x) for x in sample("models-list_expand.json")]
    assert models[0] == HubModel(
        repo_id="nerijs/pixel-art-xl", author="nerijs", downloads=9613, likes=479,
        last_modified="2023-08-07T15:02:21.000Z", gated=False, private=False, tags=tuple(models[0].tags),
        pipeline_tag="text-to-image", library_name="diffusers", sha="8a2b3d0bd1a7e4f5a0c6e2b9d3f7c1a5e8b4d2f0")
    assert "lora" in models[0].tags
    assert models[2].gated == "auto" and models[2].repo_id == "black-forest-labs/FLUX.1-dev"


def test_default_search_items_fill_author_from_the_id_and_time_from_created_at():
    (model,) = [parse_model(x) for x in sample("models-list_default.json")]
    assert model.author == "stabilityai"
    assert model.last_modified == "2023-07-25T13:25:51.000Z"
    assert model.sha is None and model.gated is False


def test_model_info_and_gated_model_info():
    info = parse_model(sample("model-info.json"))
    assert (info.repo_id, info.sha, info.likes) == ("nerijs/pixel-art-xl", "8a2b3d0bd1a7e4f5a0c6e2b9d3f7c1a5e8b4d2f0", 479)
    gated = parse_model(sample("model-info_gated.json"))
    assert gated.gated == "auto" and gated.private is False


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("manual", "manual"), ("auto", "auto"),
                                             (None, False), ("false", False)])
def test_gated_values(value, expected):
    assert parse_model({"id": "a/b", "gated": value}).gated == expected


def test_tree_entries_give_lfs_sha256_and_real_size():
    files = [parse_tree_entry(x, "nerijs/pixel-art-xl", "abc") for x in sample("tree_recursive.json")]
    by_path = {f.path: f for f in files if f}
    assert "unet" not in by_path  # a directory
    weights = by_path["pixel-art-xl.safetensors"]
    assert weights.size == 170543052  # the LFS size, not the pointer's 135
    assert weights.sha256 == "bbf3d8defbfb3fb71331545225c0cf50c74a748d2525f62c19b7bc67a6b2ebc8"
    assert weights.revision == "abc" and weights.name == "pixel-art-xl.safetensors"
    assert by_path["README.md"].sha256 is None and by_path["README.md"].size == 1021
    assert by_path["unet/diffusion_pytorch_model.safetensors"].name == "diffusion_pytorch_model.safetensors"


def test_siblings_with_and_without_blobs():
    plain = [parse_sibling(x, "r/r", "s") for x in sample("model-info.json")["siblings"]]
    assert [f.path for f in plain] == [".gitattributes", "1.png", "README.md", "pixel-art-xl.safetensors"]
    assert all(f.size == 0 and f.sha256 is None for f in plain)
    blobs = {f.path: f for f in (parse_sibling(x, "r/r", "s") for x in sample("model-info_blobs.json")["siblings"])}
    assert blobs["pixel-art-xl.safetensors"].sha256.startswith("bbf3d8de")
    assert blobs["pixel-art-xl.safetensors"].size == 170543052 and blobs["README.md"].size == 1021


def test_a_malformed_lfs_oid_is_not_taken_for_a_sha256():
    entry = {"type": "file", "path": "x.bin", "size": 10, "oid": "f" * 40, "lfs": {"oid": "not-a-hash", "size": 10}}
    assert parse_tree_entry(entry, "r/r", "s").sha256 is None


def test_front_matter_is_stripped_from_the_card():
    card = "---\nlicense: mit\ninstance_prompt: castle style\n---\n\n# Castle\n\nText.\n"
    assert strip_front_matter(card) == "# Castle\n\nText.\n"
    assert strip_front_matter("# No front matter\n---\n") == "# No front matter\n---\n"
    assert strip_front_matter("---\nnever closed\n") == "---\nnever closed\n"
    assert strip_front_matter("\ufeff---\r\na: 1\r\n---\r\nBody") == "Body"


def test_preview_prefers_named_images():
    assert preview_path(["a.safetensors", "z.png", "images/sample_1.jpg"]) == "images/sample_1.jpg"
    assert preview_path(["README.md", "b.webp", "a.png"]) == "b.webp"
    assert preview_path(["examples/x.txt", "Preview.PNG"]) == "Preview.PNG"
    assert preview_path(["README.md"]) is None
