""".ci/forge_env.py: the Forge environment sees the packages of a dev *venv* (not only of the base
Python), its own copies win where both have a package, and .ci/run keeps it inside the checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def site_of(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


def put_module(site: Path, name: str, value: str) -> None:
    (site / name).mkdir(parents=True, exist_ok=True)
    (site / name / "__init__.py").write_text(f"VALUE = {value!r}\n")


def test_a_dev_venv_packages_are_seen_and_the_forge_copies_win(tmp_path):
    dev = tmp_path / "dev-venv"
    venv.EnvBuilder(with_pip=False).create(dev)  # a plain venv as `python`: no system site packages
    dev_python = dev / "bin" / "python"
    put_module(site_of(dev_python), "mw_probe_dev_only", "dev")
    put_module(site_of(dev_python), "mw_probe_both", "dev")
    made = subprocess.run([str(dev_python), str(ROOT / ".ci" / "forge_env.py"), str(tmp_path / "forge"), ""],
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    forge_python = Path(made)
    assert forge_python == tmp_path / "forge" / "bin" / "python"
    put_module(site_of(forge_python), "mw_probe_both", "forge")
    seen = subprocess.run([str(forge_python), "-c",
                           "import mw_probe_dev_only as d, mw_probe_both as b; print(d.VALUE, b.VALUE)"],
                          check=True, capture_output=True, text=True).stdout.split()
    assert seen == ["dev", "forge"]


def test_ci_keeps_the_forge_environment_in_the_checkout():
    run = (ROOT / ".ci" / "run").read_text()
    assert "python .ci/forge_env.py .venv-forge requirements-forge.txt" in run
    assert "/tmp" not in run and "--system-site-packages" not in run


def test_running_it_twice_keeps_the_environment(tmp_path):
    script = str(ROOT / ".ci" / "forge_env.py")
    first = subprocess.run([sys.executable, script, str(tmp_path / "forge"), ""], check=True,
                           capture_output=True, text=True).stdout
    marker = tmp_path / "forge" / "kept"
    marker.write_text("x")
    second = subprocess.run([sys.executable, script, str(tmp_path / "forge"), ""], check=True,
                            capture_output=True, text=True).stdout
    assert first == second and marker.exists()
