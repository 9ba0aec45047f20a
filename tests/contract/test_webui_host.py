"""The WebUI host against the fake ``modules``: folders, settings, refresh, hashes, generation, lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model_workbench.host import ExtraNetwork, GenerationRequest, Host, HostFeatureUnavailable, ModelKind


@pytest.fixture
def host(fake_webui):
    from model_workbench.webui.host import WebuiHost

    return WebuiHost()


def test_webui_host_satisfies_the_protocol(host):
    assert isinstance(host, Host)


def test_folders_follow_webui_flags_and_defaults(fake_webui, host, tmp_path):
    fake_webui.shared.cmd_opts.lora_dir = str(tmp_path / "my-loras")
    folders = host.model_folders()
    root = fake_webui.root
    assert folders[ModelKind.LORA] == [tmp_path / "my-loras"]
    assert folders[ModelKind.CHECKPOINT] == [root / "models" / "Stable-diffusion"]
    assert folders[ModelKind.EMBEDDING] == [root / "embeddings"]  # beside models/, as WebUI keeps it
    assert folders[ModelKind.VAE] == [root / "models" / "VAE"]


def test_ckpt_dir_flag_becomes_the_install_folder_and_the_default_stays_scanned(fake_webui, host, tmp_path):
    fake_webui.shared.cmd_opts.ckpt_dir = str(tmp_path / "ckpts")
    assert host.model_folders()[ModelKind.CHECKPOINT] == [tmp_path / "ckpts",
                                                          fake_webui.root / "models" / "Stable-diffusion"]


def test_folder_override_setting_wins_for_installs(fake_webui, host, tmp_path):
    fake_webui.shared.opts.data["model_workbench_dir_lora"] = str(tmp_path / "override")
    folders = host.model_folders()[ModelKind.LORA]
    assert folders[0] == tmp_path / "override"
    assert fake_webui.root / "models" / "Lora" in folders


def test_settings_come_from_webui_options_and_the_flag(fake_webui, host):
    fake_webui.shared.cmd_opts.model_workbench_civitai_url = "http://127.0.0.1:9999/"
    fake_webui.shared.opts.data["model_workbench_civitai_api_key"] = "KEY-123"
    settings = host.settings()
    assert settings.civitai_base_url == "http://127.0.0.1:9999"
    assert settings.civitai_api_key == "KEY-123"
    assert "KEY-123" not in repr(settings)


def test_refresh_calls_webui_own_refreshers(fake_webui, host):
    host.refresh_models(ModelKind.CHECKPOINT)
    host.refresh_models(ModelKind.HYPERNETWORK)
    assert fake_webui.shared.refreshed == ["checkpoints", "hypernetworks"]
    host.refresh_models(ModelKind.LORA)
    assert fake_webui.networks.full_rescans


def test_cached_sha256_uses_webui_cache_titles(fake_webui, host):
    ckpt = Path(fake_webui.sd_models.model_path) / "sub" / "model.safetensors"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"x")
    mtime = os.path.getmtime(ckpt)
    fake_webui.hashes.cache["checkpoint/sub/model.safetensors"] = {"sha256": "ab" * 32, "mtime": mtime}
    assert host.cached_sha256(ModelKind.CHECKPOINT, ckpt) == "ab" * 32
    os.utime(ckpt, (mtime + 10, mtime + 10))  # changed on disk since: the cached hash is stale
    assert host.cached_sha256(ModelKind.CHECKPOINT, ckpt) is None


def test_preview_cell_builds_a_deterministic_txt2img(fake_webui, host, tmp_path):
    request = GenerationRequest(prompt="a cat", negative_prompt="blurry", seed=1234, steps=7, sampler_name="Euler",
                                cfg_scale=5.5, width=64, height=96,
                                extra_networks=(ExtraNetwork("proj_v1-000002", 0.8, path=tmp_path / "e2.safetensors"),))
    p = host.build_processing(request)
    assert p.prompt == "a cat <lora:proj_v1-000002:0.8>"
    assert (p.seed, p.steps, p.sampler_name, p.cfg_scale, p.width, p.height) == (1234, 7, "Euler", 5.5, 64, 96)
    assert p.negative_prompt == "blurry"
    assert p.do_not_save_samples and p.do_not_save_grid
    # No AlwaysOn script runs in a cell; the runner is empty rather than None (reForge reads it unguarded).
    assert p.scripts.alwayson_scripts == [] and p.scripts.scripts == [] and p.script_args == []


def test_generate_registers_the_file_under_its_unique_name_without_a_rescan(fake_webui, host, tmp_path):
    fake_webui.shared.sd_model = object()
    lora = tmp_path / "proj_v1-000002.safetensors"
    lora.write_bytes(b"{}")
    request = GenerationRequest(prompt="x", seed=7, width=64, height=64,
                                extra_networks=(ExtraNetwork("proj_v1-000002", 1.0, path=lora),))
    result = host.generate(request)
    entry = fake_webui.networks.available_network_aliases["proj_v1-000002"]
    assert entry.filename == str(lora)
    # PNG Info rewrites a pasted <lora:…> to the entry's alias: it must be the unique name too.
    assert entry.alias == "proj_v1-000002"
    assert not fake_webui.networks.full_rescans
    assert len(result.images) == 1 and result.images[0].size == (64, 64)
    assert "Seed: 7" in result.infotexts[0]
    assert fake_webui.processing.processed_requests[-1].closed


def test_generate_without_a_loaded_model_says_so(fake_webui, host):
    fake_webui.shared.sd_model = None
    with pytest.raises(HostFeatureUnavailable, match="No checkpoint is loaded"):
        host.generate(GenerationRequest(prompt="x", width=64, height=64))


def test_gpu_lock_holds_webui_queue_lock_and_reports_the_job(fake_webui, host):
    lock = fake_webui.call_queue.queue_lock
    with host.gpu_lock("model-workbench-grid"):
        assert lock.locked()
        assert fake_webui.shared.state.job == "model-workbench-grid"
    assert not lock.locked()
    assert fake_webui.shared.state.job == ""


def test_gpu_lock_is_released_when_the_work_fails(fake_webui, host):
    with pytest.raises(RuntimeError), host.gpu_lock("job"):
        raise RuntimeError("boom")
    assert not fake_webui.call_queue.queue_lock.locked()


def test_interrupt_sets_webui_state(fake_webui, host):
    host.interrupt()
    assert fake_webui.shared.state.interrupted


def test_progress_goes_to_webui_state_and_interrupt_is_read_back(fake_webui, host):
    from model_workbench.host import ProgressUpdate

    with host.gpu_lock("model-workbench-train"):
        host.report_progress(ProgressUpdate(3, 10, "Loss: 0.12"))
        state = fake_webui.shared.state
        assert (state.job_no, state.job_count, state.textinfo) == (3, 10, "Loss: 0.12")
        assert not host.interrupted()
        host.interrupt()
        assert host.interrupted()
