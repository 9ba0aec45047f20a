"""install.py: reads pyproject, compares versions by specifier, installs only what is missing or old,
never installs over WebUI's pins, honours --skip-install."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_install():
    spec = importlib.util.spec_from_file_location("mw_install", ROOT / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


install = _load_install()


class FakeLaunch:
    def __init__(self, skip_install: bool = False):
        self.args = SimpleNamespace(skip_install=skip_install)
        self.pip_calls: list[str] = []

    def run_pip(self, command, desc=None, live=False):
        self.pip_calls.append(command)


def test_reads_dependencies_from_pyproject():
    deps = install.read_dependencies()
    names = [install.parse_requirement(d)[0].lower() for d in deps]
    assert {"httpx", "safetensors", "pillow", "torch", "gradio"} <= set(names)


def test_reads_dependencies_without_tomllib(tmp_path, monkeypatch):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = [\n  "a>=1",\n  \'b==2.0\',\n]\n\n[tool.x]\n'
                         'dependencies = ["not-me"]\n')
    monkeypatch.setitem(__import__("sys").modules, "tomllib", None)  # as on Python 3.10
    assert install.read_dependencies(pyproject) == ["a>=1", "b==2.0"]


@pytest.mark.parametrize(("version", "spec", "ok"), [
    ("0.24.1", ">=0.24", True),
    ("0.23.3", ">=0.24", False),
    ("2.1.2+cu121", ">=2.0", True),
    ("2.1.2+cu121", "==2.1.2", True),
    ("9.5.0", ">=9.5", True),
    ("10.0.0", ">=9.5,<10", False),
    ("1.0rc1", ">=1.0", False),
    ("1.0", "!=1.0", False),
    ("1.4.2", "~=1.4", True),
    ("2.0", "~=1.4", False),
    ("3.41.2", "==3.*", True),
    ("4.40.0", "==3.*", False),
])
def test_specifier_comparison(version, spec, ok):
    _, clauses = install.parse_requirement("pkg" + spec)
    assert install.satisfies(version, clauses) is ok


def test_nothing_to_do_when_everything_is_satisfied():
    to_install, warnings = install.plan(["httpx>=0.24", "Pillow>=9.5"], version_of=lambda n: "10.0.0")
    assert to_install == [] and warnings == []


def test_missing_and_too_old_packages_are_installed():
    versions = {"httpx": None, "safetensors": "0.2.0", "Pillow": "9.5.0"}
    to_install, _ = install.plan(["httpx>=0.24", "safetensors>=0.3", "Pillow>=9.5"], version_of=versions.get)
    assert to_install == ["httpx>=0.24", "safetensors>=0.3"]


def test_pinned_packages_are_never_upgraded():
    to_install, warnings = install.plan(["Pillow>=10"], version_of=lambda n: "9.5.0", pinned={"pillow"})
    assert to_install == []
    assert "WebUI pins it" in warnings[0]


def test_main_runs_pip_only_for_what_is_missing(monkeypatch):
    launch = FakeLaunch()
    monkeypatch.setattr(install, "read_dependencies", lambda: ["httpx>=0.24", "nh3>=0.2"])
    monkeypatch.setattr(install, "installed_version", lambda n: {"httpx": "0.24.1"}.get(n))
    assert install.main(launch) == 0
    assert launch.pip_calls == ['install "nh3>=0.2"']


def test_main_does_nothing_with_skip_install(monkeypatch):
    launch = FakeLaunch(skip_install=True)
    monkeypatch.setattr(install, "read_dependencies", lambda: pytest.fail("must not even read requirements"))
    assert install.main(launch) == 0
    assert launch.pip_calls == []


def test_main_with_current_environment_makes_no_pip_call():
    # The dev environment has everything pyproject asks for: a WebUI start costs no pip call.
    launch = FakeLaunch()
    assert install.main(launch) == 0
    assert launch.pip_calls == []


def test_webui_pins_are_read_from_requirements_versions(tmp_path):
    (tmp_path / "requirements_versions.txt").write_text("Pillow==9.5.0\nfastapi==0.94.0\n# comment\nsafe_tensors==1\n")
    assert install.webui_pins(tmp_path) == {"pillow", "fastapi", "safe-tensors"}


def _socksio(monkeypatch, version):
    """socksio at ``version`` (None: missing); every other package as installed here."""
    real = install.installed_version
    monkeypatch.setattr(install, "installed_version", lambda n: version if n == "socksio" else real(n))


def _webui_with_proxy(tmp_path, proxy):
    (tmp_path / "config.json").write_text(json.dumps({"model_workbench_proxy": proxy}))
    launch = FakeLaunch()
    launch.args.ui_settings_file = str(tmp_path / "config.json")
    return launch


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "SOCKS5H://127.0.0.1:1080"])
def test_socksio_is_installed_when_a_socks_proxy_is_configured(tmp_path, monkeypatch, proxy):
    launch = _webui_with_proxy(tmp_path, proxy)
    _socksio(monkeypatch, None)
    assert install.main(launch) == 0
    assert launch.pip_calls == [f'install "{install.SOCKS_REQUIREMENT}"']


@pytest.mark.parametrize("proxy", ["http://127.0.0.1:7890", ""])
def test_socksio_is_not_installed_for_other_proxies(tmp_path, monkeypatch, proxy):
    launch = _webui_with_proxy(tmp_path, proxy)
    _socksio(monkeypatch, None)
    assert install.main(launch) == 0
    assert launch.pip_calls == []


def test_socksio_already_there_is_left_alone(tmp_path, monkeypatch):
    launch = _webui_with_proxy(tmp_path, "socks5://127.0.0.1:1080")
    _socksio(monkeypatch, "1.0.0")
    assert install.main(launch) == 0
    assert launch.pip_calls == []


def test_a_missing_or_damaged_webui_config_means_no_socks_proxy(tmp_path):
    assert install.socks_proxy_configured(tmp_path / "absent.json") is False
    (tmp_path / "config.json").write_text("{not json")
    assert install.socks_proxy_configured(tmp_path / "config.json") is False
