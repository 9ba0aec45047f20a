"""The API key's own file: owner-only, atomic, tolerant of damage, and an empty value removes the key."""

from __future__ import annotations

from model_workbench.secrets_store import SECRETS_DIR_ENV, SecretStore, default_secrets_dir


def test_round_trip_is_owner_only(tmp_path):
    store = SecretStore(tmp_path)
    store.set("civitai_api_key", "sk-1")
    assert store.get("civitai_api_key") == "sk-1"
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    store.set("civitai_api_key", "")
    assert store.get("civitai_api_key") == "" and "sk-1" not in store.path.read_text()


def test_a_damaged_file_reads_as_empty_and_is_replaced_on_the_next_write(tmp_path):
    store = SecretStore(tmp_path)
    store.path.write_text("{not json")
    assert store.get("civitai_api_key") == ""
    store.set("civitai_api_key", "sk-2")
    assert store.get("civitai_api_key") == "sk-2"


def test_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path / "s"))
    assert default_secrets_dir() == tmp_path / "s"
    monkeypatch.delenv(SECRETS_DIR_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_secrets_dir() == tmp_path / "cfg" / "sd-webui-model-workbench"
