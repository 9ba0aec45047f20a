"""Every UI string can be localised: each one a builder shows has a zh_CN translation, and the
standalone app shows the translations when asked to."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from model_workbench.civitai import endpoints
from model_workbench.civitai.enums import PERIODS, SORTS
from model_workbench.host import ModelKind
from model_workbench.settings_schema import SETTINGS
from model_workbench.standalone import StandaloneConfig, StandaloneHost
from model_workbench.training import dataset_tools
from model_workbench.training import messages as training_messages
from model_workbench.training.projects import NAME_KINDS
from model_workbench.training.session import MSG_FAILED
from model_workbench.ui import i18n
from model_workbench.ui.app import TABS, build_standalone_blocks, build_webui_tabs
from model_workbench.ui.localization_copies import COPIES, render

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


def _looks_like_a_sentence(value: object) -> bool:
    """A capitalised text with a space that ends like a sentence (or with a field to fill in)."""
    return (isinstance(value, str) and " " in value and value[:1].isupper()
            and value.rstrip().endswith((".", "}", ")", ":")))


def _constant_value(node: ast.Assign, module_name: str, importable: bool) -> object:
    try:
        return ast.literal_eval(node.value)
    except ValueError:  # an f-string or a name: ask the module itself
        return getattr(importlib.import_module(module_name), node.targets[0].id) if importable else None


def core_sentences() -> dict[str, str]:
    """Every sentence the core can show a user, mapped to where it is defined: the constants of
    ``messages.py`` modules, ``MSG_*`` constants, and any module-level constant that is a sentence."""
    found = {}
    for path in sorted((ROOT / "model_workbench").rglob("*.py")):
        if path.parent.name == "ui":
            continue  # the UI has t()
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        # The WebUI adapter's modules import WebUI's own: read their constants without importing them.
        importable = path.parent.name != "webui" or path.name == "messages.py"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.isupper()):
                continue
            name = node.targets[0].id
            value = _constant_value(node, module_name, importable)
            declared = path.name == "messages.py" or name.startswith("MSG_")
            if isinstance(value, str) and not value.startswith("http") and (declared or _looks_like_a_sentence(value)):
                found[value] = f"{module_name}.{name}"
    return found


def all_ui_strings() -> set[str]:
    strings = literal_ui_strings()
    strings |= set(core_sentences()) | set(NAME_KINDS) | set(SORTS) | set(PERIODS) | set(dataset_tools.MODES)
    strings |= set(dataset_tools.TAG_MODES)
    strings |= {title for title, _, _ in TABS}
    strings |= {spec.label for spec in SETTINGS} | {spec.info for spec in SETTINGS if spec.info}
    strings |= {kind.value for kind in ModelKind}
    strings |= set(endpoints.SENTENCES)  # the core's sentences the Settings tab translates
    return strings


def test_every_ui_string_has_a_chinese_translation():
    missing = sorted(s for s in all_ui_strings() if not ZH_CN.get(s, "").strip())
    assert missing == []


def test_every_core_sentence_has_a_chinese_translation():
    missing = sorted(f"{where}: {text}" for text, where in core_sentences().items() if not ZH_CN.get(text, "").strip())
    assert missing == []


# Raised with text that never reaches a user as it is (caught and reworded, or a programming error).
INTERNAL_RAISES = {
    ("downloads/hashing.py", "the partial file is shorter"),  # caught: the download restarts
    ("downloads/direct_body.py", "peer closed connection"),  # httpx's own wording, classified by type
    ("library/sidecars.py", "not a still image"),  # caught: the next preview image is tried
    ("library/hash_cache.py", "A SHA256 must be 64"),  # a caller's bug
    ("library/webui_hash_cache.py", "WebUI hash cache entries"),  # a damaged cache file is skipped
    ("library/safetensors_header.py", ""),  # becomes the library row's "unreadable" status
    ("training/naming.py", ""),  # key-name tables: programming errors
    ("api_body.py", "unknown field kind"),  # a route table's bug
    ("training/network.py", "MultiheadAttention"),  # a model layout no supported checkpoint has
}
SENTENCE_FREE = {"routes.py", "webui/routes.py"}  # the HTTP API answers in English


def raised_literals() -> list[tuple[str, int, str]]:
    """``raise X("…")`` / ``raise X(f"…")`` in the core: text a user may read that no table can translate."""
    found = []
    for path in sorted((ROOT / "model_workbench").rglob("*.py")):
        rel = path.relative_to(ROOT / "model_workbench").as_posix()
        if rel.startswith("ui/") or rel in SENTENCE_FREE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            first = node.exc.args[0]
            if isinstance(first, ast.JoinedStr) or (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                text = ast.unparse(first)
                if not any(rel == where and prefix in text for where, prefix in INTERNAL_RAISES):
                    found.append((rel, node.lineno, text[:80]))
    return found


def test_core_raises_sentences_from_the_translation_table():
    # A sentence written inline in a raise cannot be translated: make it a messages.py / MSG_ constant.
    assert raised_literals() == []


def test_chinese_translations_keep_every_placeholder():
    field = r"\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}"
    wrong = sorted(key for key, value in ZH_CN.items() if sorted(re.findall(field, key)) != sorted(re.findall(field, value)))
    assert wrong == []


def test_generated_copies_equal_the_source():
    for source, names in COPIES.items():
        for name in names:
            path = ROOT / "localizations" / f"{name}.json"
            assert path.read_text(encoding="utf-8") == render(source), (
                f"{path.name} differs from {source}.json: run python -m model_workbench.ui.localization_copies")


def test_filled_core_sentences_are_shown_in_chinese():
    i18n.set_language("zh_CN")
    try:
        shown = i18n.tm(training_messages.IMAGE_NOT_AN_IMAGE.format(name="猫.png"))
        assert shown == "猫.png：这不是图片文件，已跳过。"
        nested = i18n.tm(MSG_FAILED.format(error=training_messages.FP16_ON_CPU.format(precision="fp16")))
        assert nested == "训练失败：混合精度 fp16 需要 GPU；CPU 以 fp32 训练。"
        from model_workbench.training import projects
        with pytest.raises(projects.ProjectError) as caught:
            projects.validate_name("", "concept")
        assert i18n.tm(str(caught.value)) == "请输入概念名称。"
        # Two sentences, one ours and one not: ours is translated, the other kept.
        assert i18n.tm("Download cancelled. Something unknown.") == "下载已取消。Something unknown."
        assert i18n.tm("Not a sentence we know") == "Not a sentence we know"
    finally:
        i18n.set_language("")


def test_start_message_names_the_tab_by_its_label():
    # The Train tab's sub-tab "Checkpoints" is 训练存档: a sentence pointing at it must use that label.
    label = ZH_CN["Checkpoints"]
    assert f"“{label}”" in ZH_CN["Training started. Checkpoints appear on the Checkpoints tab."]


def test_sort_and_period_are_shown_translated_and_searched_in_english(tmp_path):
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    try:
        demo = build_standalone_blocks(host, lang="zh_CN")
        by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
        assert by_id["mw_civitai_sort"].value == "评分最高" and "下载最多" in str(by_id["mw_civitai_sort"].choices)
        assert by_id["mw_civitai_period"].value == "全部时间"
        assert i18n.choice_value("下载最多", SORTS) == "Most Downloaded"
        assert i18n.choice_value("Week", PERIODS) == "Week"
    finally:
        i18n.set_language("")


def test_webui_builds_in_english_and_translates_what_handlers_say(tmp_path):
    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "m", data_dir=tmp_path / "d"))
    try:
        tabs = build_webui_tabs(host, runtime_language="zh-Hans (Stable)")
        labels = {getattr(block, "label", None) for blocks, _, _ in tabs for block in blocks.blocks.values()}
        assert "Search Civitai" in labels  # WebUI's own script translates the page
        assert i18n.tm("Download cancelled.") == "下载已取消。"  # a handler's message, at run time
        build_webui_tabs(host, runtime_language="None")  # WebUI's value when no localisation is chosen
        assert i18n.tm("Download cancelled.") == "Download cancelled."
    finally:
        i18n.set_language("")


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
