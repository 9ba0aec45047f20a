"""The architecture's hard rules, checked on the source: the core imports neither gradio nor WebUI's
``modules``; only ``model_workbench/webui`` imports ``modules``; ``ui`` does not import ``modules``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "model_workbench"
CORE = ["civitai", "library", "downloads", "training", "preview", "host.py", "host_base.py", "settings_schema.py",
        "jsonfile.py", "secrets_store.py", "civitai_service.py",
        "routes.py"]
WEBUI_ONLY = {"modules", "networks", "network", "launch", "modules_forge"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(*parts: str) -> list[Path]:
    files = []
    for part in parts:
        target = PACKAGE / part
        files.extend([target] if target.is_file() else sorted(target.rglob("*.py")))
    return files


@pytest.mark.parametrize("path", python_files(*CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_neither_gradio_nor_webui(path):
    bad = imported_roots(path) & (WEBUI_ONLY | {"gradio"})
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_webui_package_imports_modules():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if PACKAGE / "webui" in path.parents:
            continue
        if imported_roots(path) & WEBUI_ONLY:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_rule_checker_itself_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import gradio as gr\nfrom modules import shared\nfrom .x import y\nimport os.path\n")
    assert imported_roots(sample) == {"gradio", "modules", "os"}


def test_the_webui_entry_script_stays_a_few_lines():
    script = ROOT / "scripts" / "model_workbench.py"
    code = [line for line in script.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 5
    assert list((ROOT / "scripts").glob("*.py")) == [script]
