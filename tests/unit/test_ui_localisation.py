"""Every UI string can be localised: each one a builder shows has a zh_CN translation, and the
standalone app shows the translations when asked to."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from model_workbench.civitai import endpoints
from model_workbench.host import ModelKind
from model_workbench.settings_schema import SETTINGS
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from model_workbench.ui import i18n
from model_workbench.ui.app import TABS, build_standalone_blocks

ROOT = Path(__file__).resolve().parents[2]
ZH_CN = json.loads((ROOT / "localizations" / "zh_CN.json").read_text(encoding="utf-8"))


def literal_ui_strings() -> set[str]:
    """String literals passed to t()/tf() anywhere in the UI code."""
    found = set()
    for path in (ROOT / "model_workbench" / "ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"t", "tf"}
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def all_ui_strings() -> set[str]:
    strings = literal_ui_strings()
    strings |= {title for title, _, _ in TABS}
    strings |= {spec.label for spec in SETTINGS} | {spec.info for spec in SETTINGS if spec.info}
    strings |= {kind.value for kind in ModelKind}
    strings |= set(endpoints.SENTENCES)  # the core's sentences the Settings tab translates
    return strings


def test_every_ui_string_has_a_chinese_translation():
    missing = sorted(s for s in all_ui_strings() if not ZH_CN.get(s, "").strip())
    assert missing == []


def test_strings_seen_while_building_are_all_translated(tmp_path):
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    i18n.seen_strings.clear()
    build_standalone_blocks(host)
    assert i18n.seen_strings, "builders must route their strings through t()"
    assert sorted(i18n.seen_strings - ZH_CN.keys()) == []


def test_translation_file_has_no_stale_entries():
    # A key nobody shows any more is a translation that silently rots.
    assert sorted(ZH_CN.keys() - all_ui_strings()) == []


def test_standalone_app_shows_chinese_labels(tmp_path):
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    try:
        demo = build_standalone_blocks(host, lang="zh_CN")
        labels = {getattr(block, "label", None) for block in demo.blocks.values()}
        assert "搜索 Civitai" in labels and "LoRA 权重" in labels
    finally:
        i18n.set_language("")


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="No translation for language 'xx'"):
        i18n.set_language("xx")
