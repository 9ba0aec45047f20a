"""The UI under Forge's gradio 4.40 (and its fastapi/pydantic 2 pins), not only A1111's gradio 3.41.

Runs the tab-building, compatibility, contract and e2e tests again in a second interpreter that has
Forge's pins (``requirements-forge.txt``), named by ``MW_GRADIO4_PYTHON``; .ci/run prepares it.
Skipped when the variable is unset (a developer machine without that environment).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ui_tests() -> list[str]:
    """Everything that builds or serves gradio components: UI unit tests, the contract tier, e2e."""
    unit = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "unit").glob("test_*ui*.py"))
    return [*unit, "tests/contract", "tests/e2e"]


def test_ui_tiers_pass_under_forge_gradio4():
    python = os.environ.get("MW_GRADIO4_PYTHON")
    if not python:
        pytest.skip("MW_GRADIO4_PYTHON is not set (see requirements-forge.txt)")
    version = subprocess.run([python, "-c", "import gradio; print(gradio.__version__)"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version.startswith("4."), f"{python} has gradio {version}, not 4.x"
    # Without the variable the inner run skips this test instead of recursing into itself.
    env = {k: v for k, v in os.environ.items() if k != "MW_GRADIO4_PYTHON"}
    result = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ui_tests()], cwd=ROOT,
                            capture_output=True, text=True, timeout=1800, env=env)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
