"""Every HTTP route that takes a body answers a wrong type with 400 and a sentence naming the field
(issue 10, item 4): no 500 with a traceback, no 422 in pydantic's words, no Python error text."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model_workbench.api_body import BodyError, Field, validate_body
from model_workbench.routes import PREFIX, build_router
from tests.support.tiny_host import tiny_host

TRAIN = {"project": "cat", "version": "v1"}
PREVIEW = {"project": "cat", "version": "v1", "weights": "1", "prompt": "x"}
PUBLISH = {"project": "cat", "version": "v1", "checkpoint": "/nope.safetensors"}

# (route, body, the field the answer must name)
WRONG_TYPES = [
    ("/projects", {"name": 123}, "name"),
    ("/projects", {}, "name"),
    ("/train", {**TRAIN, "config": {"learning_rate": "abc"}}, "config.learning_rate"),
    ("/train", {**TRAIN, "config": {"max_train_epochs": 2.5}}, "config.max_train_epochs"),
    ("/train", {**TRAIN, "config": {"network_dim": True}}, "config.network_dim"),
    ("/train", {**TRAIN, "config": {"sample_prompts": "one prompt"}}, "config.sample_prompts"),
    ("/train", {**TRAIN, "config": {"cache_latents": "yes"}}, "config.cache_latents"),
    ("/train", {**TRAIN, "config": {"lr_scheduler": 3}}, "config.lr_scheduler"),
    ("/train", {**TRAIN, "config": ["learning_rate"]}, "config"),
    ("/train", {**TRAIN, "project": 5}, "project"),
    ("/train", {**TRAIN, "version": ["v1"]}, "version"),
    ("/train", {**TRAIN, "resume": "yes"}, "resume"),
    ("/preview", {**PREVIEW, "seed": "abc"}, "seed"),
    ("/preview", {**PREVIEW, "steps": "many"}, "steps"),
    ("/preview", {**PREVIEW, "steps": 0}, "steps"),
    ("/preview", {**PREVIEW, "cfg_scale": "high"}, "cfg_scale"),
    ("/preview", {**PREVIEW, "width": [512]}, "width"),
    ("/preview", {**PREVIEW, "height": 512.5}, "height"),
    ("/preview", {**PREVIEW, "prompt": 5}, "prompt"),
    ("/preview", {**PREVIEW, "prompts": [1, 2]}, "prompts"),
    ("/preview", {**PREVIEW, "checkpoints": "cat_v1-000001.safetensors"}, "checkpoints"),
    ("/preview", {**PREVIEW, "weights": {"a": 1}}, "weights"),
    ("/preview", {**PREVIEW, "sampler_name": 1}, "sampler_name"),
    ("/preview", {**PREVIEW, "negative_prompt": False}, "negative_prompt"),
    ("/publish", {**PUBLISH, "weight": "heavy"}, "weight"),
    ("/publish", {**PUBLISH, "trigger_words": 5}, "trigger_words"),
    ("/publish", {**PUBLISH, "checkpoint": 5}, "checkpoint"),
    ("/civitai/download", {"version_id": "abc"}, "version_id"),
    ("/civitai/download", {"version_id": True}, "version_id"),
    ("/civitai/download", {}, "version_id"),
    ("/civitai/download", {"version_id": 1, "file_id": "primary"}, "file_id"),
    ("/civitai/download", {"version_id": 1, "filename": 7}, "filename"),
    ("/civitai/download", {"version_id": 1, "subfolder": ["a"]}, "subfolder"),
]


@pytest.fixture
def client(tmp_path):
    host = tiny_host(tmp_path)
    app = FastAPI()
    app.include_router(build_router(host))
    client = TestClient(app)
    assert client.post(PREFIX + "/projects", json={"name": "cat"}).status_code == 200
    return client


@pytest.mark.parametrize(("route", "body", "field"), WRONG_TYPES,
                         ids=[f"{r}-{f}-{i}" for i, (r, _, f) in enumerate(WRONG_TYPES)])
def test_a_wrong_type_is_400_with_a_sentence_naming_the_field(client, route, body, field):
    response = client.post(PREFIX + route, json=body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and f"'{field}'" in detail, detail
    assert detail.endswith("."), detail
    for jargon in ("invalid literal", "Traceback", "TypeError", "not supported between", "value is not"):
        assert jargon not in detail


@pytest.mark.parametrize("route", ["/projects", "/train", "/preview", "/publish", "/civitai/download"])
def test_a_body_that_is_not_an_object_is_400(client, route):
    response = client.post(PREFIX + route, json=["x"])
    assert response.status_code == 400 and response.json()["detail"] == "The request body must be a JSON object."


def test_the_validator_names_the_field_says_the_type_and_fills_defaults():
    schema = {"seed": Field("int", default=-1), "steps": Field("int", minimum=1, default=20),
              "scale": Field("number"), "name": Field("text", required=True),
              "file_id": Field("int", nullable=True)}
    filled = validate_body({"name": "a", "scale": 2}, schema)
    assert filled == {"seed": -1, "steps": 20, "scale": 2.0, "name": "a", "file_id": None}
    seed = validate_body({"name": "a", "seed": 4.0}, schema)["seed"]
    assert seed == 4 and type(seed) is int  # JSON writes some whole numbers so
    with pytest.raises(BodyError, match=r"^'seed' must be a whole number\.$"):
        validate_body({"name": "a", "seed": "abc"}, schema)
    with pytest.raises(BodyError, match=r"^'steps' must be at least 1\.$"):
        validate_body({"name": "a", "steps": 0}, schema)
    with pytest.raises(BodyError, match=r"^'name' is required\.$"):
        validate_body({}, schema)
    with pytest.raises(BodyError, match=r"^'cfg\.scale' must be a number\.$"):
        validate_body({"name": "a", "scale": "x"}, schema, where="cfg")
