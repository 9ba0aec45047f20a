"""The library knows where each file came from (Civitai or the Hub). Whether the Hub has a newer revision:
tests/unit/test_hub_service.py (``HubService.check_library``)."""

from __future__ import annotations

import json

from model_workbench.library.hub_record import HubRecord, read_hub_record
from model_workbench.library.kinds import ModelKind
from model_workbench.library.local_library import LocalLibrary

REPO = "artist/ink-lora"


def test_rows_say_where_each_file_came_from(tmp_path):
    lora = tmp_path / "Lora"
    lora.mkdir()
    for name in ("from_hub", "from_civitai", "by_hand"):
        (lora / f"{name}.safetensors").write_bytes(b"\0" * 16)
    record = HubRecord(REPO, "a" * 40, "ink.safetensors", "b" * 64, 16, "2025-01-02T00:00:00+00:00")
    (lora / "from_hub.hf.json").write_text(json.dumps(record.to_dict()))
    (lora / "from_civitai.civitai.info").write_text("{}")
    library = LocalLibrary(str(tmp_path / "data"), {ModelKind.LORA: [str(lora)]})
    rows = {row["name"]: row for row in library.rows()}
    assert (rows["from_hub"]["source"], rows["from_hub"]["hub"]) == ("hub", record.to_dict())
    assert (rows["from_civitai"]["source"], rows["from_civitai"]["hub"]) == ("civitai", None)
    assert rows["by_hand"]["source"] == ""


def test_a_damaged_record_is_no_record(tmp_path):
    (tmp_path / "x.hf.json").write_text("{not json")
    assert read_hub_record(tmp_path / "x.safetensors") is None
