"""The ``fake_webui`` fixture: WebUI's ``modules`` (and the built-in Lora's ``networks``) faked in
``sys.modules`` for one test, then removed so no other test sees them."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

FAKE_ROOT = Path(__file__).parent / "fake_webui"
REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_PREFIXES = ("modules", "modules_forge", "networks", "network", "backend", "model_workbench.webui")


def _drop_modules() -> None:
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in OWN_PREFIXES):
            del sys.modules[name]


@pytest.fixture
def fake_webui(tmp_path, monkeypatch):
    _drop_modules()
    # The API key store goes to the test's tmp dir, never the developer's ~/.config.
    monkeypatch.setenv("MODEL_WORKBENCH_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.syspath_prepend(str(FAKE_ROOT / "builtin_lora"))
    monkeypatch.syspath_prepend(str(FAKE_ROOT))
    modules = SimpleNamespace(**{name: importlib.import_module(f"modules.{name}") for name in (
        "script_callbacks", "shared", "paths", "sd_models", "processing", "call_queue", "extra_networks", "hashes")})
    modules.networks = importlib.import_module("networks")
    modules.network = importlib.import_module("network")
    webui_root = tmp_path / "webui"
    modules.paths.script_path = str(webui_root)
    modules.paths.data_path = str(webui_root)
    modules.paths.models_path = str(webui_root / "models")
    modules.sd_models.model_path = str(webui_root / "models" / "Stable-diffusion")
    modules.shared.config_filename = str(webui_root / "config.json")
    modules.root = webui_root
    yield modules
    _drop_modules()


def load_extension_script() -> ModuleType:
    """Execute scripts/model_workbench.py the way WebUI's ``load_scripts`` does: by file, with the
    extension root on sys.path only while it runs, under the file name as module name."""
    path = REPO_ROOT / "scripts" / "model_workbench.py"
    saved = sys.path
    sys.path = [str(REPO_ROOT)] + sys.path
    try:
        spec = importlib.util.spec_from_file_location(path.name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path = saved
    return module
