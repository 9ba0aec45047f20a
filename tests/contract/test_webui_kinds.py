"""Embeddings and hypernetworks by WebUI's own trainers, through the WebUI host, against the fake ``modules``
(``textual_inversion`` / ``hypernetworks`` mirror v1.10.1's signatures and record their calls).

The adapter must call ``create_*`` and ``train_*`` with the form's fields in WebUI's positions, leave
nothing in the user's folders, the embedding database or the hypernetwork list, keep the loaded model as
it was, and turn a preview cell's step file into ``<hypernet:TEMP:S>`` / a temporary embedding word that
exists only while that image is generated.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import pytest
import torch

from model_workbench.host import ExtraNetwork, GenerationRequest, HostFeatureUnavailable, StopFlag
from model_workbench.training.webui_kinds import (
    EmbeddingFields,
    HypernetworkFields,
    VersionKind,
    WebuiTrainingFields,
    WebuiTrainRequest,
)
from tests.support.tiny_dataset import make_concept_folder

FIELDS = WebuiTrainingFields(learn_rate="0.005:3, 1e-3", batch_size=2, gradient_step=3, width=64, height=48,
                             varsize=True, steps=6, clip_grad_mode="norm", clip_grad_value="0.2", shuffle_tags=True,
                             tag_drop_out=0.1, latent_sampling_method="deterministic", use_weight=True, save_every=2,
                             create_image_every=0, template_file="subject_filewords.txt")


@pytest.fixture
def webui(fake_webui, tmp_path, monkeypatch):
    root = fake_webui.root
    templates = root / "textual_inversion_templates"
    templates.mkdir(parents=True)
    for name in ("subject_filewords.txt", "style_filewords.txt"):
        (templates / name).write_text("a photo of [name], [filewords]\n")
    opts = fake_webui.shared.cmd_opts
    monkeypatch.setattr(opts, "textual_inversion_templates_dir", str(templates))
    monkeypatch.setattr(opts, "embeddings_dir", str(root / "embeddings"))
    monkeypatch.setattr(opts, "hypernetwork_dir", str(root / "models" / "hypernetworks"))
    (root / "embeddings").mkdir()
    (root / "models" / "hypernetworks").mkdir(parents=True)
    fake_webui.shared.sd_model = importlib.import_module("fake_sd_model").FakeSD1Model(seed=3)
    fake_webui.ti = importlib.import_module("modules.textual_inversion.textual_inversion")
    fake_webui.hn = importlib.import_module("modules.hypernetworks.hypernetwork")
    fake_webui.sd_hijack = importlib.import_module("modules.sd_hijack")
    for calls in (fake_webui.ti.train_calls, fake_webui.ti.create_calls, fake_webui.hn.train_calls,
                  fake_webui.hn.create_calls, fake_webui.sd_hijack.calls):
        calls.clear()
    db = fake_webui.sd_hijack.model_hijack = fake_webui.sd_hijack.StableDiffusionModelHijack()
    db.embedding_db.add_embedding_dir(opts.embeddings_dir)
    fake_webui.db = db.embedding_db
    fake_webui.shared.loaded_hypernetworks = []
    fake_webui.shared.reload_hypernetworks()
    return fake_webui


@pytest.fixture
def host(webui):
    from model_workbench.webui.host import WebuiHost

    return WebuiHost()


def request(tmp_path, kind, fields) -> WebuiTrainRequest:
    data = make_concept_folder(tmp_path / "dataset", n=3)
    return WebuiTrainRequest(kind=kind, fields=fields, data_dir=data, log_dir=tmp_path / "runs")


def trainer_fields(req) -> dict:
    """FIELDS as train_embedding / train_hypernetwork must receive them, by WebUI's parameter names."""
    return dict(learn_rate="0.005:3, 1e-3", batch_size=2, gradient_step=3, data_root=str(req.data_dir),
                log_directory=str(req.log_dir), training_width=64, training_height=48, varsize=True, steps=6,
                clip_grad_mode="norm", clip_grad_value="0.2", shuffle_tags=True, tag_drop_out=0.1,
                latent_sampling_method="deterministic", use_weight=True, create_image_every=0,
                template_filename="subject_filewords.txt", preview_from_txt2img=False, preview_width=64,
                preview_height=48)


def user_embedding(webui, name="userword"):
    """An embedding the user has, listed in the database."""
    webui.ti.Embedding(torch.ones(1, 32), name).save(str(Path(webui.shared.cmd_opts.embeddings_dir) / f"{name}.pt"))
    webui.db.load_textual_inversion_embeddings(force_reload=True)


def model_state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# -- support, templates, log directory ----------------------------------------------------------------
def test_a1111_trains_and_previews_both_kinds(host):
    support = {s.kind: s for s in host.webui_trainer_support()}
    assert support[VersionKind.EMBEDDING].can_train and support[VersionKind.EMBEDDING].can_preview
    assert support[VersionKind.HYPERNETWORK].can_train and support[VersionKind.HYPERNETWORK].can_preview


def test_sdxl_is_refused_with_the_reason(webui, host):
    webui.shared.sd_model = importlib.import_module("fake_sd_model").FakeSDXLModel(seed=1)
    support = host.webui_trainer_support()
    assert all("SD 1.x and SD 2.x" in s.train_reason and "SDXL" in s.train_reason for s in support)
    assert all(s.can_preview for s in support)
    with pytest.raises(HostFeatureUnavailable, match="SDXL"):
        host.train_webui_network(WebuiTrainRequest(VersionKind.EMBEDDING, EmbeddingFields("x"), Path("."), Path(".")))


def test_forge_without_the_trainers_says_forge_removed_them(webui, monkeypatch):
    from model_workbench.webui import host as host_module
    from model_workbench.webui.host_kind import HostKind

    monkeypatch.setattr(host_module, "detect_host_kind",
                        lambda: HostKind("Stable Diffusion WebUI Forge", "forge", "f2.0.1", None, False))
    support = {s.kind: s for s in host_module.WebuiHost().webui_trainer_support()}
    reason = support[VersionKind.EMBEDDING].train_reason
    assert "Forge removed WebUI's own embedding and hypernetwork training" in reason and "LoRA" in reason
    assert support[VersionKind.HYPERNETWORK].train_reason == reason
    assert "no longer applies hypernetworks" in support[VersionKind.HYPERNETWORK].preview_reason


def test_a_stub_trainer_counts_as_removed(webui, monkeypatch):
    from model_workbench.webui import host_kind

    assert host_kind._has_webui_trainers()  # the fake's are WebUI's: they validate their inputs

    def train_embedding(*args):
        raise NotImplementedError

    monkeypatch.setattr(webui.ti, "train_embedding", train_embedding)
    assert not host_kind._has_webui_trainers()


def test_templates_are_webuis_files_and_the_log_dir_is_the_train_tabs_default(webui, host, tmp_path, monkeypatch):
    assert host.prompt_templates() == ["style_filewords.txt", "subject_filewords.txt"]
    # an embedding grid with no prompt typed uses the template's lines: the host reads WebUI's file
    assert host.prompt_template_text("style_filewords.txt") == "a photo of [name], [filewords]\n"
    assert host.prompt_template_text("none.txt") is None
    monkeypatch.chdir(tmp_path)
    assert host.webui_training_log_dir() == tmp_path / "textual_inversion"


def test_an_embedding_grid_without_typed_prompts_takes_the_lines_of_webuis_template(webui, host):
    from model_workbench.training.webui_previews import embedding_prompts

    templates = Path(webui.shared.cmd_opts.textual_inversion_templates_dir)
    (templates / "style_filewords.txt").write_text("a painting, art by [name], [filewords]\nin the style of [name]\n")
    assert embedding_prompts(host, "mystyle", "", "style_filewords.txt") == ["a painting, art by mystyle",
                                                                          "in the style of mystyle"]


# -- training -------------------------------------------------------------------------------------------
def test_an_embedding_is_created_and_trained_with_the_forms_fields(webui, host, tmp_path):
    req = request(tmp_path, VersionKind.EMBEDDING, EmbeddingFields("mychar", "woman", 2, FIELDS))
    with host.gpu_lock("train"):
        snapshots = host.train_webui_network(req)
    assert webui.ti.create_calls == [("mychar", 2, False, "woman")]
    (call,) = webui.ti.train_calls
    expected = {"embedding_name": "mychar", "save_embedding_every": 2, **trainer_fields(req)}
    assert {k: call[k] for k in expected} == expected
    # WebUI numbers its copies steps_done = step + 1: 2, 4, 6 hold 1, 3, 5 steps; the result (6 steps) is 7.
    assert [(s.kind, s.name, s.step) for s in snapshots] == [(VersionKind.EMBEDDING, "mychar", n) for n in (2, 4, 6, 7)]
    assert [torch.load(s.path)["step"] for s in snapshots] == [1, 3, 5, 6]
    assert all(s.path.is_file() and s.path.parent.parent.parent.parent == req.log_dir for s in snapshots)
    assert webui.sd_hijack.calls == ["undo_optimizations", "apply_optimizations"]  # as the Train tab


def test_the_final_embedding_is_not_repeated_where_webui_saved_it(webui, host, tmp_path):
    fields = EmbeddingFields("mychar", training=WebuiTrainingFields(steps=5, save_every=2))
    req = request(tmp_path, VersionKind.EMBEDDING, fields)
    with host.gpu_lock("train"):
        snapshots = host.train_webui_network(req)
    assert [s.step for s in snapshots] == [2, 4, 6]
    assert torch.load(snapshots[-1].path)["step"] == 5


def test_only_the_final_embedding_where_webui_saved_no_copies(webui, host, tmp_path):
    fields = EmbeddingFields("mychar", training=WebuiTrainingFields(steps=3, save_every=0))
    req = request(tmp_path, VersionKind.EMBEDDING, fields)
    with host.gpu_lock("train"):
        (final,) = host.train_webui_network(req)
    assert final.step == 4 and final.path.parent.name == "embeddings" and torch.load(final.path)["step"] == 3


def test_training_an_embedding_leaves_no_trace(webui, host, tmp_path):
    user_embedding(webui, "mychar")  # the user already has an embedding with the trigger word
    before_db = dict(webui.db.word_embeddings)
    folder = Path(webui.shared.cmd_opts.embeddings_dir)
    files = sorted(folder.iterdir())
    state = model_state(webui.shared.sd_model)
    with host.gpu_lock("train"):
        host.train_webui_network(request(tmp_path, VersionKind.EMBEDDING, EmbeddingFields("mychar", training=FIELDS)))
    assert sorted(folder.iterdir()) == files
    assert webui.shared.cmd_opts.embeddings_dir == str(folder)
    assert list(webui.db.word_embeddings) == list(before_db)
    assert torch.equal(webui.db.word_embeddings["mychar"].vec, torch.ones(1, 32))  # the user's, not ours
    after = model_state(webui.shared.sd_model)
    assert all(torch.equal(after[k], v) for k, v in state.items()) and after.keys() == state.keys()


def test_a_hypernetwork_is_created_and_trained_with_the_forms_fields(webui, host, tmp_path):
    fields = HypernetworkFields("my net", sizes=("32",), layer_structure="1, 1.5, 1", activation="relu",
                                weight_init="XavierNormal", add_layer_norm=True, use_dropout=True,
                                dropout_structure="0, 0.1, 0", training=FIELDS)
    req = request(tmp_path, VersionKind.HYPERNETWORK, fields)
    with host.gpu_lock("train"):
        snapshots = host.train_webui_network(req)
    (create,) = webui.hn.create_calls
    assert create == dict(name="my net", enable_sizes=["32"], overwrite_old=False, layer_structure="1, 1.5, 1",
                          activation_func="relu", weight_init="XavierNormal", add_layer_norm=True, use_dropout=True,
                          dropout_structure="0, 0.1, 0")
    (call,) = webui.hn.train_calls
    expected = {"hypernetwork_name": "my net", "save_hypernetwork_every": 2, **trainer_fields(req)}
    assert {k: call[k] for k in expected} == expected
    assert [(s.kind, s.name, s.step) for s in snapshots] == [(VersionKind.HYPERNETWORK, "my net", n) for n in (2, 4, 6, 7)]
    assert all(s.path.parent.name == "hypernetworks" for s in snapshots)


def test_training_a_hypernetwork_leaves_no_trace(webui, host, tmp_path):
    shared = webui.shared
    folder = Path(shared.cmd_opts.hypernetwork_dir)
    (folder / "users.pt").write_bytes(b"")
    shared.reload_hypernetworks()
    listed = dict(shared.hypernetworks)
    loaded = shared.loaded_hypernetworks
    loaded.append("the user's loaded hypernetwork")
    model = shared.sd_model
    # what a generation with <hypernet:…> leaves on an attention module (apply_single_hypernetwork)
    attention = next(m for name, m in model.named_modules() if name.endswith("attn2"))
    earlier = webui.hn.HypernetworkModule(32)
    attention.hyper_k = earlier
    state = model_state(model)
    names = [n for n, _ in model.named_modules()]
    with host.gpu_lock("train"):
        host.train_webui_network(request(tmp_path, VersionKind.HYPERNETWORK,
                                         HypernetworkFields("net", sizes=("32",), training=FIELDS)))
    assert attention.hyper_k is earlier and not hasattr(attention, "hyper_v")  # the earlier layer, not the run's
    assert sorted(p.name for p in folder.iterdir()) == ["users.pt"]
    assert shared.hypernetworks == listed and shared.cmd_opts.hypernetwork_dir == str(folder)
    assert shared.loaded_hypernetworks is loaded and loaded == ["the user's loaded hypernetwork"]
    assert [n for n, _ in model.named_modules()] == names  # no hyper_k / hyper_v left on the attention
    after = model_state(model)
    assert after.keys() == state.keys() and all(torch.equal(after[k], v) for k, v in state.items())
    assert all(p.grad is None for p in model.parameters())


def test_progress_is_forwarded_and_stop_interrupts_webuis_trainer(webui, host, tmp_path, monkeypatch):
    from model_workbench.webui import webui_trainers

    monkeypatch.setattr(webui_trainers, "POLL_S", 0.01)
    stop = StopFlag()
    updates = []
    stepped = threading.Event()

    def slow_step():
        stepped.set()
        stop.set()
        threading.Event().wait(0.1)

    original = webui.ti.fake_training_steps
    monkeypatch.setattr(webui.ti, "fake_training_steps",
                        lambda *args: original(*args[:-1], lambda: (args[-1](), slow_step())))
    fields = EmbeddingFields("mychar", training=WebuiTrainingFields(steps=50, save_every=1))
    with host.gpu_lock("train"):
        snapshots = host.train_webui_network(request(tmp_path, VersionKind.EMBEDDING, fields), updates.append, stop)
    assert stepped.is_set() and webui.shared.state.interrupted
    assert 0 < len(snapshots) < 50
    assert updates and all(u.total == 50 for u in updates) and updates[-1].text.startswith("Step ")


@pytest.mark.parametrize(("change", "sentence"), [
    (dict(template_file="nope.txt"), "no prompt template named nope.txt"),
    (dict(learn_rate="fast"), "learning rate 'fast' is not understood"),
    (dict(learn_rate=""), "learning rate '' is not understood"),
    # WebUI reads the clipping value with its learning-rate scheduler and says "Invalid learning rate schedule"
    (dict(clip_grad_mode="norm", clip_grad_value="big"), "gradient clipping value 'big' is not understood"),
])
def test_webuis_refusals_become_our_sentences(webui, host, tmp_path, change, sentence):
    fields = EmbeddingFields("mychar", training=WebuiTrainingFields(**{**dict(steps=2), **change}))
    with host.gpu_lock("train"), pytest.raises(ValueError, match=sentence):
        host.train_webui_network(request(tmp_path, VersionKind.EMBEDDING, fields))
    assert webui.shared.cmd_opts.embeddings_dir.endswith("embeddings")
    assert list(Path(webui.shared.cmd_opts.embeddings_dir).iterdir()) == []


def test_an_empty_dataset_is_said_in_our_words(webui, host, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    req = WebuiTrainRequest(VersionKind.HYPERNETWORK, HypernetworkFields("net", sizes=("32",)), empty, tmp_path / "r")
    with host.gpu_lock("train"), pytest.raises(ValueError, match="dataset folder is empty"):
        host.train_webui_network(req)
    assert webui.shared.hypernetworks == {}


def test_a_run_webui_ended_early_without_an_interrupt_is_a_failure(webui, host, tmp_path, monkeypatch):
    monkeypatch.setattr(webui.ti, "fail_at_step", 3)
    fields = EmbeddingFields("mychar", training=WebuiTrainingFields(steps=6, save_every=2))
    with host.gpu_lock("train"), pytest.raises(RuntimeError, match="stopped after 3 of 6 steps"):
        host.train_webui_network(request(tmp_path, VersionKind.EMBEDDING, fields))


# -- previews of step files ---------------------------------------------------------------------------------
def trained(webui, host, tmp_path, kind, fields):
    with host.gpu_lock("train"):
        return host.train_webui_network(request(tmp_path, kind, fields))


def test_a_hypernet_cell_loads_the_step_under_a_temporary_name_for_that_image_only(webui, host, tmp_path):
    snapshots = trained(webui, host, tmp_path, VersionKind.HYPERNETWORK,
                        HypernetworkFields("net", sizes=("32",), training=WebuiTrainingFields(steps=4, save_every=2)))
    shared = webui.shared
    listed, loaded = dict(shared.hypernetworks), shared.loaded_hypernetworks
    names = [n for n, _ in shared.sd_model.named_modules()]
    cell = GenerationRequest(prompt="a cat", seed=5, width=64, height=64,
                             extra_networks=(ExtraNetwork("net", 0.7, kind="hypernet", path=snapshots[0].path),))
    with host.gpu_lock("preview"):
        host.generate(cell)
    p = webui.processing.processed_requests[-1]
    temp = next(name for name in p.seen_hypernetworks if name not in listed)
    assert temp.startswith("mwhn") and p.prompt == f"a cat <hypernet:{temp}:0.7>"
    assert p.seen_hypernetworks[temp] == str(snapshots[0].path)
    assert p.seen_loaded_hypernetworks == [("net", str(snapshots[0].path), 0.7)]  # by WebUI's own loader
    assert shared.hypernetworks == listed and shared.loaded_hypernetworks is loaded and loaded == []
    assert [n for n, _ in shared.sd_model.named_modules()] == names


def test_hypernet_strength_zero_is_plain_txt2img(webui, host, tmp_path):
    step = tmp_path / "net-2.pt"
    step.write_bytes(b"")
    with host.gpu_lock("preview"):
        host.generate(GenerationRequest(prompt="a cat", seed=5, width=64, height=64,
                                        extra_networks=(ExtraNetwork("net", 0, kind="hypernet", path=step),)))
    p = webui.processing.processed_requests[-1]
    assert p.prompt == "a cat" and p.seen_loaded_hypernetworks == []


def test_an_embedding_cell_replaces_the_trigger_word_by_a_temporary_one(webui, host, tmp_path):
    user_embedding(webui)
    snapshots = trained(webui, host, tmp_path, VersionKind.EMBEDDING,
                        EmbeddingFields("mychar", training=WebuiTrainingFields(steps=4, save_every=2)))
    before = dict(webui.db.word_embeddings)
    lookup = {k: list(v) for k, v in webui.db.ids_lookup.items()}
    cell = GenerationRequest(prompt="mychar, mychars, a photo of mychar", negative_prompt="ugly mychar", seed=5,
                             width=64, height=64,
                             extra_networks=(ExtraNetwork("mychar", kind="embedding", path=snapshots[1].path),))
    with host.gpu_lock("preview"):
        host.generate(cell)
    p = webui.processing.processed_requests[-1]
    (word,) = [w for w in p.seen_embeddings if w not in before]
    assert word.startswith("mwemb")
    assert p.prompt == f"{word}, mychars, a photo of {word}" and p.negative_prompt == f"ugly {word}"
    assert torch.equal(p.seen_embeddings[word].vec, torch.load(snapshots[1].path)["string_to_param"]["*"])
    assert p.do_not_reload_embeddings  # a reload would drop the step before the prompt is encoded
    assert webui.db.word_embeddings == before and webui.db.ids_lookup == lookup


def test_an_embedding_for_another_model_is_refused_in_our_words(webui, host, tmp_path):
    user_embedding(webui)
    step = tmp_path / "sdxl-2.pt"
    webui.ti.Embedding(torch.ones(1, 2048), "sdxl").save(str(step))
    cell = GenerationRequest(prompt="sdxl", seed=5, width=64, height=64,
                             extra_networks=(ExtraNetwork("sdxl", kind="embedding", path=step),))
    before = dict(webui.db.word_embeddings)
    with host.gpu_lock("preview"), pytest.raises(ValueError, match="2048 values, the loaded checkpoint needs 32"):
        host.generate(cell)
    assert webui.db.word_embeddings == before


def test_a_baseline_cell_is_plain_txt2img(webui, host):
    with host.gpu_lock("preview"):
        host.generate(GenerationRequest(prompt="a photo", seed=5, width=64, height=64))
    p = webui.processing.processed_requests[-1]
    assert p.prompt == "a photo" and not p.do_not_reload_embeddings


def test_an_embedding_webui_cannot_read_back_is_said_in_our_words(webui, host, tmp_path, monkeypatch):
    # WebUI 1.10.1's safe unpickler refuses files a newer PyTorch writes; load_from_file then only prints.
    monkeypatch.setattr(webui.db, "load_from_file", lambda path, filename: None)
    fields = EmbeddingFields("mychar", training=WebuiTrainingFields(steps=2))
    with host.gpu_lock("train"), pytest.raises(RuntimeError, match="could not read back the embedding"):
        host.train_webui_network(request(tmp_path, VersionKind.EMBEDDING, fields))
    assert webui.ti.train_calls == [] and list(Path(webui.shared.cmd_opts.embeddings_dir).iterdir()) == []
