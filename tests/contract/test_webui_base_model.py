"""The base model (issue 14, item 2) through WebUI's own checkpoint list and loader, against the fake
``modules`` (v1.10.1's ``sd_models`` signatures) and a Forge-style ``main_entry``: the adapter lists
``checkpoints_list``, loads with ``reload_model_weights`` (A1111) or ``checkpoint_change`` +
``forge_model_reload`` (Forge) as their dropdowns do, and the version's config records the hash WebUI
computed while loading."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import pytest

from model_workbench.training import projects
from model_workbench.training.base_checkpoint import choose_base_model
from tests.contract.conftest import FAKE_ROOT

CONTENTS = {"a.safetensors": b"a" * 64, "sub/b.safetensors": b"b" * 64}


def sha(name: str) -> str:
    return hashlib.sha256(CONTENTS[name]).hexdigest()


@pytest.fixture
def infos(fake_webui):
    """Two checkpoint files in WebUI's list, the first loaded (and so hashed), as after WebUI's start."""
    folder = Path(fake_webui.sd_models.model_path)
    found = []
    for name, content in CONTENTS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        info = fake_webui.sd_models.CheckpointInfo(str(path))
        info.register()
        found.append(info)
    found[0].calculate_shorthash()
    fake_webui.shared.opts.data["sd_model_checkpoint"] = found[0].title
    return found


@pytest.fixture
def a1111(fake_webui, infos):
    from model_workbench.webui.host import WebuiHost
    from tests.contract.fake_webui.fake_sd_model import FakeSD1Model

    model = FakeSD1Model(filename=infos[0].filename)
    model.sd_checkpoint_info = infos[0]
    fake_webui.shared.sd_model = model
    return WebuiHost()


def test_the_host_lists_webuis_checkpoints_and_the_loaded_one(a1111, infos):
    listed = a1111.checkpoints()
    assert [c.title for c in listed] == [f"a.safetensors [{sha('a.safetensors')[:10]}]", "sub/b.safetensors"]
    assert listed[1].sha256 is None and listed[1].legacy_hash == infos[1].hash  # not hashed until loaded
    loaded = a1111.loaded_checkpoint()
    assert loaded.name == "a.safetensors" and loaded.sha256 == sha("a.safetensors")
    assert loaded.filename == infos[0].filename


def test_loading_calls_webuis_loader_sets_and_saves_the_option(fake_webui, a1111, infos):
    with a1111.gpu_lock("test"):
        got = a1111.load_checkpoint(a1111.checkpoints()[1])
    assert fake_webui.sd_models.reloads == [(infos[1], False)]
    assert got.name == "sub/b.safetensors" and got.sha256 == sha("sub/b.safetensors")
    assert got.title == f"sub/b.safetensors [{got.sha256[:10]}]"
    assert fake_webui.shared.opts.sd_model_checkpoint in infos[1].ids
    assert fake_webui.sd_models.select_checkpoint() is infos[1]  # what WebUI loads after a restart
    saved = json.loads(Path(fake_webui.shared.config_filename).read_text(encoding="utf-8"))
    assert saved["sd_model_checkpoint"] == fake_webui.shared.opts.sd_model_checkpoint
    assert a1111.loaded_checkpoint() == got


def test_choosing_a_base_model_records_the_hash_webui_computed(fake_webui, a1111, infos):
    root = a1111.data_dir()
    projects.create_project(root, "cat")
    projects.create_version(root, "cat", "v1", {"network_dim": 4})
    choose_base_model(a1111, root, "cat", "v1", "sub/b.safetensors")
    stored = projects.read_version_config(root, "cat", "v1")
    assert stored["network_dim"] == 4 and stored["base_model"] == "sub/b.safetensors"
    assert stored["base_model_sha256"] == sha("sub/b.safetensors")
    assert stored["base_model_hash"] == sha("sub/b.safetensors")[:10]
    assert stored["pretrained_model_name_or_path"] == infos[1].filename


def test_a_failed_load_leaves_the_option_and_the_model_as_they_were(fake_webui, a1111, infos):
    fake_webui.sd_models.fail_next_reload = True
    before = fake_webui.shared.opts.sd_model_checkpoint
    with a1111.gpu_lock("test"), pytest.raises(RuntimeError, match="restoring previous"):
        a1111.load_checkpoint(a1111.checkpoints()[1])
    assert fake_webui.shared.opts.sd_model_checkpoint == before
    assert a1111.loaded_checkpoint().name == "a.safetensors"


def test_a_checkpoint_webui_does_not_list_is_refused_with_a_sentence(a1111):
    from model_workbench.host import BaseCheckpoint

    gone = BaseCheckpoint(title="gone.safetensors [0123456789]", name="gone.safetensors", shorthash="0123456789")
    with pytest.raises(ValueError, match=r"gone.safetensors \[0123456789\] is not in WebUI's checkpoint list"):
        a1111.load_checkpoint(gone)


def test_forge_selects_as_its_dropdown_does_and_loads_at_once(fake_webui, infos, monkeypatch):
    from types import SimpleNamespace

    from model_workbench.webui import host as host_module
    from model_workbench.webui.host_kind import HostKind

    sd_models, shared = fake_webui.sd_models, fake_webui.shared
    # Forge's own package, only here: where it can be imported the host takes WebUI for Forge.
    monkeypatch.syspath_prepend(str(FAKE_ROOT / "forge"))
    main_entry = importlib.import_module("modules_forge.main_entry")
    data = SimpleNamespace(sd_model=None, forge_hash="", forge_loading_parameters={})
    monkeypatch.setattr(sd_models, "model_data", data)
    loads = []

    def forge_model_reload():  # Forge's: reload when the loading parameters changed; hash the checkpoint
        current = str(data.forge_loading_parameters)
        if data.forge_hash == current:
            return data.sd_model, False
        info = data.forge_loading_parameters["checkpoint_info"]
        loads.append(info)
        data.sd_model = shared.sd_model = SimpleNamespace(sd_checkpoint_info=info, filename=info.filename,
                                                          sd_model_hash=info.calculate_shorthash())
        data.forge_hash = current
        return data.sd_model, True

    monkeypatch.setattr(sd_models, "forge_model_reload", forge_model_reload, raising=False)
    monkeypatch.setattr(host_module, "detect_host_kind",
                        lambda: HostKind("Stable Diffusion WebUI Forge", "forge", "2.0.1v1.10.1", None))
    host = host_module.WebuiHost()
    main_entry.refresh_model_loading_parameters()  # what Forge's UI did at start
    assert host.loaded_checkpoint().name == "a.safetensors"  # selected; Forge loads it lazily

    with host.gpu_lock("test"):
        got = host.load_checkpoint(host.checkpoints()[1])

    assert main_entry.refreshes[-1] is infos[1] and loads == [infos[1]]
    assert data.forge_loading_parameters["checkpoint_info"] is infos[1]
    assert got.name == "sub/b.safetensors" and got.sha256 == sha("sub/b.safetensors")
    assert shared.opts.sd_model_checkpoint in infos[1].ids
    saved = json.loads(Path(shared.config_filename).read_text(encoding="utf-8"))
    assert saved["sd_model_checkpoint"] == shared.opts.sd_model_checkpoint


def test_frozen_settings_refuse_the_switch_with_a_sentence(fake_webui, a1111, monkeypatch):
    from model_workbench.host import HostFeatureUnavailable

    def frozen(key, value, is_api=False, run_callbacks=True):  # Options.__setattr__ under --freeze-settings
        raise AssertionError("changing settings is disabled")

    monkeypatch.setattr(fake_webui.shared.opts, "set", frozen)
    with a1111.gpu_lock("test"), pytest.raises(HostFeatureUnavailable, match=r"\(changing settings is disabled\), "
                                                                                "so the base model cannot be switched"):
        a1111.load_checkpoint(a1111.checkpoints()[1])
    assert fake_webui.sd_models.reloads == []
