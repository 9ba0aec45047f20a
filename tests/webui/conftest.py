"""webui tier: the extension installed into a real WebUI (A1111 v1.10.1 or Forge) and run there.

Skipped unless ``WEBUI_DIR`` points at a WebUI checkout with its environment. A checkout with a
``modules_forge`` folder is Forge: it gets Forge's CPU flag (``--always-cpu``) instead of A1111's
(``--use-cpu all --no-half``), and tests that differ by host read the ``webui_kind`` fixture.
``WEBUI_PYTHON`` is its interpreter (default ``$WEBUI_DIR/venv/bin/python``); ``WEBUI_ARGS`` adds launch flags (for example
``--ckpt-dir DIR --no-download-sd-model --precision full``; Forge needs a full-size checkpoint, made by
``python -m tests.support.make_sd15_checkpoint``). The rest of the environment (offline
cache variables such as ``HF_HOME`` and ``HF_HUB_OFFLINE``) is passed through unchanged.

The fixture installs a snapshot of this working tree through WebUI's own
``install_extension_from_url`` (which also runs our install.py), starts WebUI on a free loopback
port with CPU flags, and removes the extension again afterwards.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.app_server import free_port
from tests.support.webui_start import WebuiDidNotStart, wait_until_started

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SNIPPET = """
import os, sys
webui, url, dirname = sys.argv[1], sys.argv[2], sys.argv[3]
os.chdir(webui)
sys.path.insert(0, webui)
# WebUI parses sys.argv when its modules are imported: give it plain CPU flags only.
sys.argv = [os.path.join(webui, "launch.py"), "--skip-prepare-environment", "--skip-torch-cuda-test",
            *sys.argv[4:]]
try:  # Forge and its variants set up their backend (and read --always-cpu) before anything else
    from modules_forge.initialization import initialize_forge
except ImportError:
    initialize_forge = None
if initialize_forge is not None:
    initialize_forge()
from modules import shared_init
shared_init.initialize()
from modules import extensions, ui_extensions
extensions.list_extensions()
_, message = ui_extensions.install_extension_from_url(dirname, url)
print(message)
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/webui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.webui)


def snapshot_repository(destination: Path) -> str:
    """This working tree (tracked and untracked-but-not-ignored files) as a fresh git repo's HEAD."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=destination, check=True)
    subprocess.run(["git", "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=destination, check=True)
    return destination.as_uri()


@pytest.fixture(scope="session")
def webui_dir() -> Path:
    value = os.environ.get("WEBUI_DIR")
    if not value:
        pytest.skip("WEBUI_DIR is not set: the webui tier needs a real WebUI (A1111 v1.10.1 or Forge)")
    path = Path(value).resolve()
    if not (path / "launch.py").is_file():
        pytest.fail(f"WEBUI_DIR={value} does not look like a WebUI checkout (no launch.py)")
    return path


def host_kind(webui_dir: Path) -> str:
    """"forge" for a Forge checkout (its ``modules_forge`` package), else "a1111"."""
    return "forge" if (webui_dir / "modules_forge").is_dir() else "a1111"


def cpu_flags(kind: str) -> list[str]:
    return ["--always-cpu"] if kind == "forge" else ["--use-cpu", "all", "--no-half"]


@pytest.fixture(scope="session")
def webui_kind(webui_dir) -> str:
    return host_kind(webui_dir)


@pytest.fixture(scope="session")
def webui_python(webui_dir) -> str:
    return os.environ.get("WEBUI_PYTHON") or str(webui_dir / "venv" / "bin" / "python")


@pytest.fixture(scope="session")
def installed_extension(webui_dir, webui_python, tmp_path_factory):
    """Install this checkout with WebUI's installer; yields the extension folder, removed afterwards."""
    dirname = f"sd-webui-model-workbench-test{os.getpid()}"
    target = webui_dir / "extensions" / dirname
    if target.exists():
        pytest.fail(f"{target} exists already; remove it first")
    url = snapshot_repository(tmp_path_factory.mktemp("extension-repo"))
    result = subprocess.run([webui_python, "-c", INSTALL_SNIPPET, str(webui_dir), url, dirname,
                             *cpu_flags(host_kind(webui_dir))], cwd=webui_dir,
                            capture_output=True, text=True, timeout=600)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert target.is_dir(), result.stdout + result.stderr
        yield target, result.stdout + result.stderr
    finally:
        shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="session")
def webui_secrets_dir(tmp_path_factory) -> Path:
    """Where the WebUI under test keeps the Civitai API key (never the developer's ~/.config)."""
    return tmp_path_factory.mktemp("secrets")


@pytest.fixture(scope="session")
def webui_server(webui_dir, webui_python, installed_extension, webui_secrets_dir, tmp_path_factory):
    """WebUI started on a free loopback port with CPU flags and the API on; yields its base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("webui") / "webui.log"
    args = [webui_python, "launch.py", "--skip-prepare-environment", "--skip-torch-cuda-test", "--skip-version-check",
            *cpu_flags(host_kind(webui_dir)), "--api", "--port", str(port),
            *shlex.split(os.environ.get("WEBUI_ARGS", ""))]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
           "MODEL_WORKBENCH_SECRETS_DIR": str(webui_secrets_dir)}
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=webui_dir, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            # WebUI answers its own API before app_started has added ours: wait for both, and send nothing
            # before its "Startup time" line (a request during start-up can kill WebUI 1.10.1).
            def ready() -> bool:
                try:
                    return (httpx.get(url + "/sdapi/v1/sd-models", timeout=5).status_code == 200
                            and httpx.get(url + "/model-workbench/v1/status", timeout=5).status_code == 200)
                except httpx.HTTPError:
                    return False

            try:
                wait_until_started(process, log_path, deadline=time.monotonic() + 600, ready=ready)
            except WebuiDidNotStart as exc:
                pytest.fail(f"WebUI did not start: {exc}")
            yield url, log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            print(f"WebUI log: {log_path}", file=sys.stderr)
