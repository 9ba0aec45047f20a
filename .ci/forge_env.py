"""Make (or update) the Forge environment for tests/contract/test_forge_gradio4.py; print its python.

Usage: python .ci/forge_env.py [DEST] [REQUIREMENTS]  (defaults: .venv-forge, requirements-forge.txt)

DEST is a plain venv inside the checkout (ignored by git), so every clone has its own. It holds Forge's
pins (gradio 4.40, fastapi 0.104, pydantic 2) and sees every other package (torch, pytest, playwright)
of the interpreter running this script, a system Python or a venv alike: a .pth file in its
site-packages adds the running interpreter's site-packages folders AFTER its own, so that where both
have a package (gradio, fastapi, pydantic) the Forge environment's copy is the one imported.
(``venv --system-site-packages`` would show the base interpreter's packages, not a dev venv's.)
An empty REQUIREMENTS installs nothing (the tests of this script use that).
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

PTH_NAME = "zz-model-workbench-dev.pth"  # read after any other .pth there; its folders go last on sys.path


def dev_site_folders() -> list[str]:
    """This interpreter's package folders, in its own order (a venv's first, then any it inherits)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def env_python(dest: Path) -> Path:
    return dest / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


def make(dest: Path, requirements: str) -> Path:
    python = env_python(dest)
    if not python.exists():
        venv.EnvBuilder(with_pip=bool(requirements)).create(dest)
    # addsitedir (rather than a bare path) also runs the .pth files of the dev folders, as the dev
    # interpreter does; it appends, so the Forge environment's own site-packages stays in front.
    lines = [f"import site; site.addsitedir({folder!r})" for folder in dev_site_folders()]
    (site_packages(python) / PTH_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    if requirements:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", requirements], check=True)
    return python


if __name__ == "__main__":
    destination = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv-forge").absolute()
    print(make(destination, sys.argv[2] if len(sys.argv) > 2 else "requirements-forge.txt"))
