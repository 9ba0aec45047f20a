"""Embedding and hypernetwork versions end to end over the tiny host: train with the (tiny) WebUI trainer,
list the steps, render fixed-seed grids, compare, publish; and the same through the HTTP API."""

from __future__ import annotations

import time

import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import ImageChops

from model_workbench.host import GenerationRequest, ModelKind
from model_workbench.preview.plan import GenerationSettings
from model_workbench.routes import PREFIX, build_router
from model_workbench.training import webui_runs, webui_versions
from model_workbench.training.session import TrainingBusy, service_for
from model_workbench.training.webui_kinds import VersionKind
from model_workbench.training.webui_previews import KindPreviewService, outside_source, version_source
from model_workbench.training.webui_publish import PublishExists, publish_step
from tests.support.tiny_host import tiny_host_with_project

SMALL = GenerationSettings(steps=3, width=64, height=64)
TRAIN = {"steps": 4, "save_every": 2, "learn_rate": "0.05", "width": 64, "height": 64}


def trained(host, version, kind, **fields):
    webui_versions.create_kind_version(host.data_dir(), "cat", version, kind, {"training": TRAIN, **fields})
    service = service_for(host)
    service.start("cat", version)
    assert service.wait(120)
    return service.status()


@pytest.fixture
def host(tmp_path):
    return tiny_host_with_project(tmp_path, images=2)


def model_state(host):
    return {k: v.clone() for k, v in host.model.root.state_dict().items()}


def same_state(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_embedding_version_trains_lists_steps_and_renders_a_grid(host):
    before = model_state(host)
    status = trained(host, "emb", "embedding", name="tinyword", init_text="cat")
    assert status["state"] == "finished" and status["kind"] == "embedding", status["message"]
    assert same_state(before, model_state(host))  # the loaded model is unchanged
    source = version_source(host.data_dir(), "cat", "emb")
    assert [s.step for s in source.snapshots] == [2, 4] and source.name == "tinyword"
    data = torch.load(source.snapshots[0].path, weights_only=True)
    assert set(data) == {"string_to_token", "string_to_param", "name", "step", "sd_checkpoint", "sd_checkpoint_name"}
    assert data["step"] == 2 and data["string_to_param"]["*"].shape == (1, 32)

    outcome = KindPreviewService(host).grid(source, prompts=["a tinyword on a table"], settings=SMALL, seed=7)
    cells = outcome.cells()
    assert outcome.as_dict()["complete"] and len(cells) == 4  # 2 steps × (no embedding, embedding)
    baseline = [c for c in cells if c["baseline"]]
    assert {c["prompt"] for c in baseline} == {"a on a table"}  # the word taken out
    assert all(not c["baseline"] and c["prompt"] == "a tinyword on a table" for c in cells if c not in baseline)
    assert all("Seed: 7" in c["infotext"] for c in cells)
    # The baseline column equals a plain generation of the prompt without the word.
    plain = host.generate(GenerationRequest(prompt="a on a table", seed=7, steps=3, width=64, height=64)).images[0]
    from model_workbench.training.previews import cell_image

    manifest = outcome.saved.manifest_path
    entries = outcome.saved.manifest["cells"]
    base_image = cell_image(manifest, next(e for e in entries if e["baseline"]))
    assert ImageChops.difference(base_image, plain.convert("RGB")).getbbox() is None
    with_word = [cell_image(manifest, e) for e in entries if not e["baseline"]]
    assert ImageChops.difference(with_word[0], base_image).getbbox() is not None  # the embedding changes it
    assert entries[1]["checkpoint"]["kind"] == "embedding" and entries[1]["checkpoint"]["step"] == 2


def test_hypernetwork_steps_by_strengths_with_strength_zero_as_plain(host):
    status = trained(host, "hn", "hypernetwork", name="tinyhn", layer_structure="1, 2, 1")
    assert status["state"] == "finished", status["message"]
    source = version_source(host.data_dir(), "cat", "hn")
    data = torch.load(source.snapshots[-1].path, weights_only=False)
    for key in ("step", "name", "layer_structure", "activation_func", "is_layer_norm", "weight_initialization",
                "sd_checkpoint", "sd_checkpoint_name", "activate_output", "use_dropout", "dropout_structure",
                "last_layer_dropout", "optional_info"):
        assert key in data
    assert isinstance(data[32], tuple) and data["step"] == 4
    outcome = KindPreviewService(host).grid(source, strengths="0.5, 3", prompts="tinycat", settings=SMALL, seed=5)
    labels = outcome.saved.manifest["axes"]["x"]["labels"]
    assert labels == ["no hypernetwork", "strength 0.5", "strength 3"]
    cells = outcome.cells()
    assert len(cells) == 6 and "<hypernet:tinyhn-" in cells[1]["infotext"] and ":0.5>" in cells[1]["infotext"]
    request = host.generated[-1]
    assert request.extra_networks[0].kind == "hypernet" and request.extra_networks[0].path is not None


def test_another_kind_is_refused_while_one_trains(host):
    host.step_delay = 0.2
    webui_versions.create_kind_version(host.data_dir(), "cat", "hn", "hypernetwork", {"training": {**TRAIN, "steps": 30}})
    webui_versions.create_kind_version(host.data_dir(), "cat", "emb", "embedding", {"training": TRAIN})
    service = service_for(host)
    service.start("cat", "hn")
    try:
        with pytest.raises(TrainingBusy, match="hypernetwork training is already running"):
            service.start("cat", "emb")
        deadline = time.monotonic() + 60
        while service.status()["step"] < 3 and time.monotonic() < deadline:  # two steps done: one saved
            time.sleep(0.05)
    finally:
        service.stop()
        assert service.wait(60)
    status = service.status()
    assert status["state"] == "interrupted" and status["checkpoints"], status  # the steps done are saved


def test_publish_a_step_with_card_preview_and_confirmation(host):
    trained(host, "emb", "embedding", name="tinyword")
    source = version_source(host.data_dir(), "cat", "emb")
    KindPreviewService(host).grid(source, prompts="tinyword", settings=SMALL, seed=1)
    result = publish_step(host, source, source.snapshots[0].path)
    folder = host.model_folders()[ModelKind.EMBEDDING][0]
    assert result.path == folder / "tinyword.pt" and result.preview_path == folder / "tinyword.preview.png"
    import json

    card = json.loads(result.metadata_path.read_text(encoding="utf-8"))
    assert card["notes"] == "Project cat, version emb, step 2." and "Embedding" in card["description"]
    assert host.refreshed[-1] is ModelKind.EMBEDDING
    with pytest.raises(PublishExists, match="confirm to replace"):
        publish_step(host, source, source.snapshots[1].path)
    publish_step(host, source, source.snapshots[1].path, overwrite=True)
    assert result.path.read_bytes() == source.snapshots[1].path.read_bytes()


def test_runs_made_in_webuis_train_tab_are_previewed_and_published(host):
    trained(host, "hn", "hypernetwork", name="outside")
    # Copy the version's run into WebUI's own log folder, as if trained in WebUI's Train tab.
    import shutil

    shutil.copytree(webui_runs.version_log_dir(host.data_dir(), "cat", "hn"), host.webui_training_log_dir())
    runs = webui_runs.outside_runs(host.webui_training_log_dir())
    assert [r.name for r in runs] == ["outside"]
    source = outside_source(host, runs[0].id, VersionKind.HYPERNETWORK)
    outcome = KindPreviewService(host).grid(source, strengths="1", prompts="tinycat", settings=SMALL, seed=2)
    assert outcome.as_dict()["complete"]
    result = publish_step(host, source, source.snapshots[-1].path)
    assert result.path == host.model_folders()[ModelKind.HYPERNETWORK][0] / "outside.pt"
    assert "WebUI training run" in result.metadata_path.read_text(encoding="utf-8")


def test_http_api_drives_an_embedding_version(host):
    app = FastAPI()
    app.include_router(build_router(host))
    client = TestClient(app)
    support = client.get(PREFIX + "/webui-kinds/support").json()
    assert {k["kind"]: k["can_train"] for k in support["kinds"]} == {"embedding": True, "hypernetwork": True}
    assert "subject_filewords.txt" in support["prompt_templates"]
    body = {"project": "cat", "version": "e1", "kind": "embedding",
            "fields": {"name": "tinyword", "training": {**TRAIN, "template_file": "subject_filewords.txt"}}}
    assert client.post(PREFIX + "/webui-kinds/versions", json=body).status_code == 201
    assert client.post(PREFIX + "/webui-kinds/versions", json=body).status_code == 409
    bad = client.post(PREFIX + "/webui-kinds/settings", json={"project": "cat", "version": "e1",
                                                              "fields": {"name": "two words"}})
    assert bad.status_code == 400 and "' '" in bad.json()["detail"]
    assert client.get(PREFIX + "/webui-kinds/settings", params={"project": "cat", "version": "e1"}).json()[
        "fields"]["name"] == "tinyword"
    assert client.post(PREFIX + "/webui-kinds/train", json={"project": "cat", "version": "e1"}).status_code == 202
    deadline = time.monotonic() + 120
    while client.get(PREFIX + "/train/status").json()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    steps = client.get(PREFIX + "/webui-kinds/steps", params={"project": "cat", "version": "e1"}).json()
    assert [s["step"] for s in steps["steps"]] == [2, 4]
    grid = client.post(PREFIX + "/webui-kinds/grid", json={"project": "cat", "version": "e1", "template":
                                                           "subject_filewords.txt", "snapshots": [steps["steps"][1]["path"]],
                                                           "seed": 3, "steps": 1, "width": 64, "height": 64})
    assert grid.status_code == 200, grid.text
    assert len(grid.json()["cells"]) == 6  # 1 step × 3 template prompts × (no embedding, embedding)
    published = client.post(PREFIX + "/webui-kinds/publish", json={"project": "cat", "version": "e1",
                                                                   "step": steps["steps"][1]["path"]})
    assert published.status_code == 200 and published.json()["name"] == "tinyword"
    again = client.post(PREFIX + "/webui-kinds/publish", json={"project": "cat", "version": "e1",
                                                               "step": steps["steps"][0]["path"]})
    assert again.status_code == 409
    assert client.get(PREFIX + "/webui-kinds/runs").json()["runs"] == []


def test_versions_of_one_kind_are_compared_side_by_side(host):
    trained(host, "e1", "embedding", name="wordone")
    trained(host, "e2", "embedding", name="wordtwo", training={**TRAIN, "template_file": "none.txt"})
    service = KindPreviewService(host)
    outcome = service.compare("cat", ["e1", "e2"], "1", "", SMALL, seed=4, baseline=True)
    cells = outcome.cells()
    assert {c["version"] for c in cells} == {"e1", "e2"}
    # No prompt typed: each version's own template with its own word.
    assert {c["prompt"] for c in cells if c["version"] == "e2" and not c["baseline"]} == {"picture"}
    assert any("wordone" in c["prompt"] for c in cells if c["version"] == "e1")
    trained(host, "h1", "hypernetwork", name="hone")
    with pytest.raises(ValueError, match="same kind"):
        service.compare("cat", ["e1", "h1"], "1", "tinycat", SMALL, seed=4)


def test_a_host_without_webuis_trainers_refuses_the_start_as_lora_does(tmp_path):
    """The standalone app (like Forge) cannot run WebUI's trainers: the start is a 409 with the host's
    sentence before anything runs, the answer POST /train gives for a LoRA on such a host."""
    from model_workbench.standalone import StandaloneConfig, StandaloneHost

    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data"))
    app = FastAPI()
    app.include_router(build_router(host))
    client = TestClient(app)
    assert client.post(PREFIX + "/projects", json={"name": "cat"}).status_code == 200
    body = {"project": "cat", "version": "e1", "kind": "embedding", "fields": {"name": "tinyword"}}
    assert client.post(PREFIX + "/webui-kinds/versions", json=body).status_code == 201
    refused = client.post(PREFIX + "/webui-kinds/train", json={"project": "cat", "version": "e1"})
    assert refused.status_code == 409 and "Training an embedding needs" in refused.json()["detail"]
    assert client.get(PREFIX + "/train/status").json()["state"] == "idle"
