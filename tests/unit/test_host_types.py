"""The Host protocol's own types, and the behaviour every host shares."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from model_workbench.host import (
    ExtraNetwork,
    GenerationRequest,
    Host,
    HostFeatureUnavailable,
    ModelKind,
    ProgressUpdate,
    StopFlag,
    WorkbenchSettings,
    iter_install_folders,
)
from model_workbench.settings_schema import settings_from_values
from model_workbench.standalone import StandaloneConfig, StandaloneHost


@pytest.fixture
def host(tmp_path):
    return StandaloneHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data"))


def test_generation_request_rejects_what_webui_would_not_render():
    GenerationRequest(prompt="ok", seed=0, width=64, height=64)
    with pytest.raises(ValueError, match="fixed seed"):
        GenerationRequest(prompt="x", seed=-1)
    with pytest.raises(ValueError, match="multiples of 8"):
        GenerationRequest(prompt="x", width=65)
    with pytest.raises(ValueError, match="Steps"):
        GenerationRequest(prompt="x", steps=0)


def test_generation_request_is_hashable_and_carries_extra_networks():
    request = GenerationRequest(prompt="x", extra_networks=(ExtraNetwork("a", 0.5, path=Path("/a.safetensors")),))
    assert hash(request) == hash(GenerationRequest(prompt="x", extra_networks=(
        ExtraNetwork("a", 0.5, path=Path("/a.safetensors")),)))


def test_progress_fraction_is_clamped():
    assert ProgressUpdate(5, 10).fraction == 0.5
    assert ProgressUpdate(3, 0).fraction == 0.0
    assert ProgressUpdate(12, 10).fraction == 1.0


def test_stop_flag_crosses_threads():
    stop = StopFlag()
    assert not stop
    threading.Thread(target=stop.set).start()
    for _ in range(100):
        if stop.is_set():
            break
        threading.Event().wait(0.01)
    assert stop


def test_settings_repr_never_shows_the_api_key():
    settings = WorkbenchSettings(civitai_api_key="sk-very-secret", proxy="http://user:pw@proxy:1")
    assert "sk-very-secret" not in repr(settings) and "pw@" not in repr(settings)


def test_settings_fall_back_to_environment_and_defaults():
    env = {"CIVITAI_API_KEY": " env-key ", "MODEL_WORKBENCH_CIVITAI_URL": "http://127.0.0.1:1234/"}
    settings = settings_from_values({}, environ=env)
    assert settings.civitai_api_key == "env-key"
    assert settings.civitai_base_url == "http://127.0.0.1:1234"
    assert settings.nsfw_level == "PG-13"
    explicit = settings_from_values({"model_workbench_civitai_api_key": "opt-key",
                                     "model_workbench_nsfw_level": "bogus"}, environ=env)
    assert explicit.civitai_api_key == "opt-key" and explicit.nsfw_level == "PG-13"


def test_standalone_host_satisfies_the_protocol_and_says_what_it_cannot_do(host):
    assert isinstance(host, Host)
    caps = host.capabilities()
    assert caps.flavor == "standalone" and not caps.can_generate and not caps.can_train
    with pytest.raises(HostFeatureUnavailable, match="needs Stable Diffusion WebUI"):
        host.generate(GenerationRequest(prompt="x"))
    with pytest.raises(HostFeatureUnavailable, match="Training"):
        host.trainable_model()
    with pytest.raises(HostFeatureUnavailable, match="deepbooru"):
        host.tag_image(None, "deepbooru")


def test_standalone_folders_follow_webui_layout(tmp_path):
    models = tmp_path / "webui" / "models"
    host = StandaloneHost(StandaloneConfig(models_dir=models, data_dir=tmp_path / "d",
                                           folder_flags={ModelKind.VAE: tmp_path / "vae"}))
    folders = host.model_folders()
    assert folders[ModelKind.CHECKPOINT] == [models / "Stable-diffusion"]
    assert folders[ModelKind.LORA] == [models / "Lora"]
    assert folders[ModelKind.EMBEDDING] == [tmp_path / "webui" / "embeddings"]
    assert folders[ModelKind.VAE] == [tmp_path / "vae"]
    assert dict(iter_install_folders(host))[ModelKind.LORA] == models / "Lora"


def test_settings_file_round_trip_keeps_the_key_private(host):
    host.settings_file.save({"model_workbench_civitai_api_key": "k-1", "model_workbench_dir_lora": "/x/loras",
                             "unknown_key": "dropped"})
    stored = host.settings_file.path
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    settings = host.settings()
    assert settings.civitai_api_key == "k-1"
    assert host.model_folders()[ModelKind.LORA][0] == Path("/x/loras")
    assert "unknown_key" not in stored.read_text()


def test_broken_settings_file_falls_back_to_defaults_and_is_kept(host):
    host.settings_file.path.parent.mkdir(parents=True)
    host.settings_file.path.write_text("{not json")
    assert host.settings().nsfw_level == "PG-13"
    assert host.settings_file.path.read_text() == "{not json"


def test_gpu_lock_serialises_work(host):
    order = []

    def job(name):
        with host.gpu_lock(name):
            order.append(("start", name))
            threading.Event().wait(0.05)
            order.append(("end", name))

    threads = [threading.Thread(target=job, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [kind for kind, _ in order] == ["start", "end", "start", "end"]


def test_base_host_interrupt_is_reset_by_the_next_job(host):
    with host.gpu_lock("a"):
        host.interrupt()
        assert host.interrupted()
    with host.gpu_lock("b"):
        assert not host.interrupted()
        host.report_progress(ProgressUpdate(1, 2, "half"))
    assert host.last_progress.fraction == 0.5


def test_an_earlier_none_nsfw_setting_reads_as_pg_only():
    assert settings_from_values({"model_workbench_nsfw_level": "None"}, environ={}).nsfw_level == "PG"


def test_settings_repr_never_shows_the_hub_token():
    settings = WorkbenchSettings(hf_token="hf_very_secret", hf_endpoint="https://hf-mirror.com")
    assert "hf_very_secret" not in repr(settings) and "hf-mirror.com" in repr(settings)


def test_hub_endpoint_and_token_come_from_the_settings_or_the_environment():
    assert settings_from_values({}, environ={}).hf_endpoint == "https://huggingface.co"
    mirror = settings_from_values({}, environ={"HF_ENDPOINT": "https://hf-mirror.com/", "HF_TOKEN": "hf_env"})
    # HF_ENDPOINT is honoured as huggingface_hub does; HF_TOKEN (made for huggingface.co) never goes to a mirror.
    assert mirror.hf_endpoint == "https://hf-mirror.com" and mirror.hf_token == ""
    assert settings_from_values({}, environ={"HF_TOKEN": "hf_env"}).hf_token == "hf_env"
    ours = settings_from_values({}, environ={"HF_ENDPOINT": "https://hf-mirror.com", "MODEL_WORKBENCH_HF_TOKEN": "hf_mw"})
    assert ours.hf_token == "hf_mw"
    explicit = settings_from_values({"model_workbench_hf_endpoint": "http://127.0.0.1:9/",
                                     "model_workbench_hf_token": " hf_set "}, environ={"HF_ENDPOINT": "https://x.org"})
    assert explicit.hf_endpoint == "http://127.0.0.1:9" and explicit.hf_token == "hf_set"
