"""A version's kind and WebUI fields: JSON in and out, every refusal a sentence; snapshot listing (pure)."""

from __future__ import annotations

import pytest

from model_workbench.training import projects, webui_fields, webui_runs, webui_versions
from model_workbench.training.webui_fields import KindFieldsError, fields_from_dict, parse_learn_rate
from model_workbench.training.webui_kinds import EmbeddingFields, HypernetworkFields, VersionKind
from model_workbench.training.webui_previews import embedding_prompts, remove_word


def test_absent_kind_is_lora_and_unknown_kind_is_refused():
    assert webui_fields.version_kind({"learning_rate": 1e-4}) is VersionKind.LORA
    assert webui_fields.version_kind({"kind": "Embedding"}) is VersionKind.EMBEDDING
    with pytest.raises(KindFieldsError, match="not known"):
        webui_fields.version_kind({"kind": "dreambooth"})


def test_learn_rate_schedule_is_read_as_webui_reads_it():
    assert parse_learn_rate("0.005", 1000) == [(0.005, 1000)]
    assert parse_learn_rate("0.005:100, 1e-3:1000, 1e-5", 5000) == [(0.005, 100), (0.001, 1000), (1e-5, 5000)]
    # A step beyond the run's end is cut to it and ends the schedule; -1 means "to the end".
    assert parse_learn_rate("0.01:50, 0.001:2000, 1e-5", 500) == [(0.01, 50), (0.001, 500)]
    assert parse_learn_rate("0.01:-1, 0.5", 300) == [(0.01, 300)]
    for bad in ("", "fast", "0.01:ten", "0.1:1:2", "0", "-0.1"):
        with pytest.raises(KindFieldsError, match="0.005:100, 1e-3:1000, 1e-5"):
            parse_learn_rate(bad, 100)


def test_embedding_fields_round_trip_and_refusals():
    fields = fields_from_dict("embedding", {"name": "mycat", "vectors_per_token": 4,
                                            "training": {"learn_rate": "0.005:100, 1e-3", "steps": 200}})
    assert isinstance(fields, EmbeddingFields) and fields.vectors_per_token == 4 and fields.training.steps == 200
    assert fields_from_dict("embedding", webui_fields.fields_to_dict(fields)) == fields
    cases = [({"name": "my cat"}, "' '"), ({"name": ""}, "Enter a name"), ({"name": "a:b"}, "':'"),
             ({"name": "x", "vectors_per_token": 0}, "1 to 75"), ({"name": "x", "vectors_per_token": 76}, "1 to 75"),
             ({"name": "x", "vectors_per_token": "4"}, "whole number"), ({"name": "x", "colour": 1}, "Unknown"),
             ({"name": "x", "training": {"width": 500}}, "multiples of 8"),
             ({"name": "x", "training": {"latent_sampling_method": "often"}}, "once, deterministic, random"),
             ({"name": "x", "training": {"tag_drop_out": 2}}, "between 0 and 1"),
             ({"name": "x", "training": {"steps": 0}}, "at least 1")]
    for data, words in cases:
        with pytest.raises(KindFieldsError) as error:
            fields_from_dict("embedding", data)
        assert words in str(error.value), (data, str(error.value))
    assert fields_from_dict("embedding", {"name": "猫cat"}).name == "猫cat"  # letters of any language


def test_template_must_be_one_the_host_lists():
    templates = ["subject_filewords.txt", "style_filewords.txt"]
    fields_from_dict("embedding", {"name": "x", "training": {"template_file": "style_filewords.txt"}}, templates)
    with pytest.raises(KindFieldsError, match="not one of WebUI's templates"):
        fields_from_dict("embedding", {"name": "x", "training": {"template_file": "mine.txt"}}, templates)
    fields_from_dict("embedding", {"name": "x", "training": {"template_file": "mine.txt"}})  # the host cannot tell


def test_hypernetwork_structures():
    fields = fields_from_dict("hypernetwork", {"name": "hn", "layer_structure": "1, 1.5, 1", "use_dropout": True,
                                               "dropout_structure": "0, 0.1, 0", "sizes": ["768", "320"]})
    assert isinstance(fields, HypernetworkFields) and fields.sizes == ("768", "320")
    # WebUI's API takes any width: a model whose cross-attention context is 64 wide gets 64.
    assert fields_from_dict("hypernetwork", {"name": "hn", "sizes": [64, "128"]}).sizes == ("64", "128")
    assert fields.training.learn_rate == "0.00001"  # WebUI's hypernetwork default
    for data, words in [({"layer_structure": "2, 1"}, "start and end with 1"),
                        ({"layer_structure": "1, x, 1"}, "start and end with 1"),
                        ({"use_dropout": True, "dropout_structure": "0, 0.1"}, "one number per layer (3)"),
                        ({"use_dropout": True, "dropout_structure": "0, 1, 0"}, "below 1"),
                        ({"sizes": ["wide"]}, "hypernetwork size"), ({"sizes": []}, "hypernetwork size"),
                        ({"weight_init": "Zero"}, "Normal")]:
        with pytest.raises(KindFieldsError, match=words.replace("(", r"\(").replace(")", r"\)")):
            fields_from_dict("hypernetwork", {"name": "hn", **data})
    with pytest.raises(KindFieldsError, match="relu"):
        fields_from_dict("hypernetwork", {"name": "hn", "activation": "gelu"}, activations=["linear", "relu"])


def test_kind_versions_are_created_read_and_saved(tmp_path):
    projects.create_project(tmp_path, "cat")
    webui_versions.create_kind_version(tmp_path, "cat", "emb1", "embedding", {"vectors_per_token": 2})
    settings = webui_versions.read_kind_settings(tmp_path, "cat", "emb1")
    assert settings["kind"] == "embedding" and settings["fields"]["name"] == "emb1"  # the version's name by default
    assert settings["fields"]["vectors_per_token"] == 2
    saved = webui_versions.save_kind_settings(tmp_path, "cat", "emb1", {"name": "tinycat", "init_text": "cat"})
    assert saved.name == "tinycat" and projects.read_version_config(tmp_path, "cat", "emb1")["kind"] == "embedding"
    projects.create_version(tmp_path, "cat", "lora1", {"learning_rate": 1e-4})
    assert webui_versions.read_kind_settings(tmp_path, "cat", "lora1") == {"kind": "lora", "fields": None}
    with pytest.raises(KindFieldsError, match="lora version"):
        webui_versions.save_kind_settings(tmp_path, "cat", "lora1", {"name": "x"})
    with pytest.raises(KindFieldsError, match="' '"):
        webui_versions.create_kind_version(tmp_path, "cat", "hn 1", "hypernetwork")  # the name comes from it


def test_webui_data_dir_is_the_one_concept_or_a_flat_folder(tmp_path):
    from tests.support.tiny_dataset import make_concept_folder

    paths = projects.create_project(tmp_path, "cat")
    webui_versions.create_kind_version(tmp_path, "cat", "v", "embedding")
    make_concept_folder(paths.dataset, n=2, concept="a")
    assert webui_versions.webui_data_dir(tmp_path, "cat", "v") == paths.dataset / "1_a"
    make_concept_folder(paths.dataset, n=2, concept="b")
    flat = webui_versions.webui_data_dir(tmp_path, "cat", "v")
    assert sorted(p.name for p in flat.iterdir()) == ["a-img0.png", "a-img0.txt", "a-img1.png", "a-img1.txt",
                                                      "b-img0.png", "b-img0.txt", "b-img1.png", "b-img1.txt"]


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_snapshots_and_outside_runs_are_listed_from_webui_layout(tmp_path):
    log = tmp_path / "textual_inversion"
    _touch(log / "2024-05-01" / "cat" / "embeddings" / "cat-1000.pt")
    _touch(log / "2024-05-01" / "cat" / "embeddings" / "cat-500.pt")
    _touch(log / "2024-05-01" / "cat" / "images" / "cat-500.png")
    _touch(log / "2024-05-02" / "hn" / "hypernetworks" / "hn-20.pt")
    _touch(log / "2024-05-02" / "empty" / "images" / "x.png")
    runs = webui_runs.outside_runs(log)
    assert [r.id for r in runs] == ["2024-05-02/hn", "2024-05-01/cat"]  # newest date first, runs without steps left out
    assert [s.step for s in runs[1].snapshots[VersionKind.EMBEDDING]] == [500, 1000]
    assert runs[0].snapshots[VersionKind.HYPERNETWORK][0].name == "hn"
    assert webui_runs.outside_runs(None) == [] and webui_runs.outside_runs(tmp_path / "none") == []
    with pytest.raises(ValueError, match="no WebUI training run"):
        webui_runs.find_outside_run(log, "2024-05-03/x")
    with pytest.raises(ValueError, match="not one of the run's saved steps"):
        webui_runs.pick_snapshots(runs[1].snapshots[VersionKind.EMBEDDING], [str(tmp_path / "other.pt")])


def test_embedding_prompts_and_the_baseline_without_the_word():
    assert remove_word("a photo of mycat, sitting", "mycat") == "a photo of, sitting"
    assert remove_word("mycat, red", "MyCat") == "red" and remove_word("mycats mycat-x", "mycat") == "mycats mycat-x"

    class Host:
        def prompt_template_text(self, name):
            return "a photo of a [name], [filewords]\n\nart by [name]\n" if name == "t.txt" else None

    assert embedding_prompts(Host(), "mycat", "", "t.txt") == ["a photo of a mycat", "art by mycat"]
    assert embedding_prompts(Host(), "mycat", ["red mycat", "blue square"]) == ["red mycat", "mycat, blue square"]
    with pytest.raises(ValueError, match="Enter a prompt"):
        embedding_prompts(Host(), "mycat", "", "other.txt")  # a template the host does not have
