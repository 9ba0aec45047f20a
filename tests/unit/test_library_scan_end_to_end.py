"""LocalLibrary, the facade the UI calls: scan → background hashing → Civitai match → rows."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from model_workbench.library import hashing
from model_workbench.library.local_library import LocalLibrary
from model_workbench.library.matching import (
    STATUS_MATCHED,
    STATUS_NOT_ON_CIVITAI,
    STATUS_UNHASHED,
    STATUS_UPDATE_AVAILABLE,
)
from model_workbench.library.webui_hash_cache import WebUIHashCacheJson


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture()
def setup(tmp_path: Path):
    lora = tmp_path / "models" / "Lora"
    ckpt = tmp_path / "models" / "Stable-diffusion"
    files = {
        "ink": write(lora / "ink.safetensors", os.urandom(5000)),
        "old": write(lora / "old.safetensors", os.urandom(6000)),
        "own": write(lora / "own.safetensors", os.urandom(7000)),
        "base": write(ckpt / "base.ckpt", os.urandom(8000)),
    }
    write(lora / "ink.preview.png", b"png")
    digests = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}
    folders = {"lora": [str(lora)], "checkpoint": [str(ckpt)]}
    return tmp_path, files, digests, folders


def test_full_flow_and_restart(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path, files, digests, folders = setup
    data_dir = str(tmp_path / "data")
    # WebUI already hashed the checkpoint.
    cache_json = tmp_path / "cache.json"
    cache_json.write_text(
        json.dumps({"hashes": {"checkpoint/base.ckpt": {"mtime": os.path.getmtime(files["base"]), "sha256": digests["base"]}}})
    )
    library = LocalLibrary(data_dir, lambda: folders, external_hash_lookup=WebUIHashCacheJson(str(cache_json)))
    result = library.scan()
    assert len(result.records) == 4
    assert {r.name for r in library.unhashed()} == {"ink", "old", "own"}
    assert library.status(library.unhashed()[0]) == STATUS_UNHASHED

    seen = []
    task = library.start_hashing(progress=seen.append)
    report = task.wait(timeout=30)
    assert report.computed == 3 and not report.errors
    assert {r.name: r.sha256 for r in library.records} == digests
    assert seen and seen[-1].files_done == 3

    known = {
        digests["ink"]: {"id": 11, "modelId": 1, "name": "v1", "model": {"name": "Ink", "type": "LORA"}},
        digests["old"]: {"id": 21, "modelId": 2, "name": "v1", "model": {"name": "Old", "type": "LORA"}},
        digests["base"]: {"id": 31, "modelId": 3, "name": "v1", "model": {"name": "Base", "type": "Checkpoint"}},
    }
    calls = []

    def lookup(hashes):
        calls.append(hashes)
        return {h: known.get(h) for h in hashes}

    newest = {1: [11], 2: [22, 21], 3: [31]}
    match_report = library.match(lookup, lambda model_id: newest[model_id])
    assert len(match_report.matched) == 3 and match_report.not_found == [digests["own"]]
    statuses = {r.name: library.status(r) for r in library.records}
    assert statuses == {
        "ink": STATUS_MATCHED,
        "old": STATUS_UPDATE_AVAILABLE,
        "own": STATUS_NOT_ON_CIVITAI,
        "base": STATUS_MATCHED,
    }
    needs = {n.record.name: n.missing for n in library.sidecar_needs()}
    assert needs == {"ink": ("json", "civitai_info"), "old": ("preview", "json", "civitai_info"), "base": ("preview", "json", "civitai_info")}
    assert library.installed_index().has_version(21)
    rows = {row["name"]: row for row in library.rows()}
    assert rows["old"]["civitai"]["update_available"] is True
    assert rows["ink"]["civitai_url"] == "https://civitai.com/models/1?modelVersionId=11"
    assert rows["own"]["civitai"] is None and rows["own"]["status"] == STATUS_NOT_ON_CIVITAI

    # Restart: new objects over the same data folder. No file is read, Civitai is not asked.
    reads = []
    monkeypatch.setattr(hashing, "sha256_file", lambda *a, **k: reads.append(a) or "0" * 64)
    again = LocalLibrary(data_dir, folders)
    assert all(r.sha256 for r in again.scan().records)
    assert again.unhashed() == []
    again.match(lookup)
    assert reads == [] and len(calls) == 1
    assert {r.name: again.status(r) for r in again.records} == statuses


def test_a_scan_during_hashing_gets_the_hashes_too(setup) -> None:
    tmp_path, files, digests, folders = setup
    library = LocalLibrary(str(tmp_path / "data"), folders)
    library.scan()
    targets = library.unhashed()
    rescanned = library.scan()  # e.g. the user pressed Refresh while hashing runs
    library.start_hashing(targets).wait(timeout=30)
    assert {r.name: r.sha256 for r in rescanned.records} == digests
