"""README's set-up section stays true: its commands are .ci/run's, every standalone flag is in its
table, what the app writes into the checkout is ignored by git, and every test skip is explained."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from model_workbench.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def setup_section() -> str:
    return README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]


def bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_commands_are_the_ones_ci_runs():
    install_and_start, test = bash_blocks(setup_section())[:2]
    install = install_and_start.split(" && ")[0]
    ci_lines = [line.strip() for line in CI.splitlines()]
    assert install in [line.replace(" -q ", " ") for line in ci_lines]
    assert test in ci_lines


def test_every_standalone_flag_is_in_the_flags_table():
    table = README.split("### Standalone app flags", 1)[1].split("\n## ", 1)[0]
    flags = {option for action in build_parser()._actions for option in action.option_strings
             if option.startswith("--") and option != "--help"}
    assert flags and {flag for flag in flags if f"`{flag}" not in table and f" {flag}" not in table} == set()


def test_what_the_set_up_command_writes_into_the_checkout_is_ignored():
    paths = ["models/Lora/x.safetensors", "outputs/model-workbench/settings.json", ".venv-forge/bin/python"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert ignored == paths


def test_python_version_and_cpu_torch_are_said():
    section = setup_section()
    assert "Python 3.10 or newer" in section
    assert "--index-url https://download.pytorch.org/whl/cpu" in section
    assert "repository's root folder" in section and "pip install -e ." in section


def test_every_skip_reason_in_the_suite_is_explained():
    section = setup_section()
    for needed in ("/usr/bin/chromium", "MW_GRADIO4_PYTHON", "CJK font", "WEBUI_DIR"):
        assert needed in section, needed
