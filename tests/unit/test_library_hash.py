"""Hashing: correctness, the persistent cache, move detection, WebUI's cache, progress and cancel."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from model_workbench.library import hashing
from model_workbench.library.hash_cache import HashCache
from model_workbench.library.hashing import Hasher, HashItem, sha256_file
from model_workbench.library.scan import LibraryScanner
from model_workbench.library.webui_hash_cache import WebUIHashCacheJson


def make_files(folder: Path, count: int, size: int, prefix: str = "m") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}{i:03d}.safetensors"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def items(paths: list[Path]) -> list[HashItem]:
    return [HashItem.from_path(str(p)) for p in paths]


def expected(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every file the hasher actually reads."""
    seen: list[str] = []
    real = hashing.sha256_file
    lock = threading.Lock()

    def counting(path, *args, **kwargs):
        with lock:
            seen.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(hashing, "sha256_file", counting)
    return seen


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(os.urandom(3 * 65536 + 17))
    assert sha256_file(str(path), buffer_size=65536) == expected(path)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert sha256_file(str(empty)) == hashlib.sha256(b"").hexdigest()


def test_parallel_hashing_equals_hashlib(tmp_path: Path) -> None:
    paths = make_files(tmp_path, 12, 300_000)
    seen = []
    report = Hasher(HashCache(None), workers=4, buffer_size=64 * 1024).hash_all(items(paths), progress=seen.append)
    assert report.hashes == {str(p): expected(p) for p in paths}
    assert report.computed == 12 and report.bytes_read == 12 * 300_000 and not report.cancelled
    assert seen[-1].files_done == 12 and seen[-1].bytes_done == seen[-1].bytes_total == 12 * 300_000
    assert seen[-1].fraction == 1.0


def test_cache_hits_after_restart(tmp_path: Path, reads: list[str]) -> None:
    paths = make_files(tmp_path / "models", 5, 10_000)
    cache_file = str(tmp_path / "hashes.json")
    first = Hasher(HashCache(cache_file)).hash_all(items(paths))
    assert len(reads) == 5 and first.computed == 5
    reads.clear()
    # A restart: new cache and hasher objects over the same file.
    second = Hasher(HashCache(cache_file)).hash_all(items(paths))
    assert reads == []
    assert second.from_cache == 5 and second.computed == 0
    assert second.hashes == first.hashes


def test_changed_mtime_or_size_is_rehashed(tmp_path: Path, reads: list[str]) -> None:
    a, b = make_files(tmp_path / "models", 2, 10_000)
    cache_file = str(tmp_path / "hashes.json")
    Hasher(HashCache(cache_file)).hash_all(items([a, b]))
    reads.clear()
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same bytes, newer mtime
    with b.open("ab") as handle:  # appended: size changes
        handle.write(b"more")
    report = Hasher(HashCache(cache_file)).hash_all(items([a, b]))
    assert sorted(reads) == sorted([str(a), str(b)])
    assert report.hashes[str(b)] == expected(b)


def test_renamed_and_moved_files_keep_their_identity(tmp_path: Path, reads: list[str]) -> None:
    a, b = make_files(tmp_path / "Lora", 2, 10_000)
    cache_file = str(tmp_path / "hashes.json")
    first = Hasher(HashCache(cache_file)).hash_all(items([a, b]))
    reads.clear()
    renamed = a.with_name("renamed.safetensors")
    os.rename(a, renamed)  # rename: same inode
    (tmp_path / "Lora" / "sub").mkdir()
    moved = tmp_path / "Lora" / "sub" / b.name
    os.rename(b, moved)
    cache = HashCache(cache_file)
    report = Hasher(cache).hash_all(items([renamed, moved]))
    assert reads == []
    assert report.from_moved == 2
    assert report.hashes == {str(renamed): first.hashes[str(a)], str(moved): first.hashes[str(b)]}
    # The entries were re-keyed: the next run is a plain cache hit.
    assert Hasher(HashCache(cache_file)).hash_all(items([renamed, moved])).from_cache == 2


def test_move_across_file_systems_needs_one_unique_vanished_entry(tmp_path: Path) -> None:
    cache = HashCache(None)
    cache.put(str(tmp_path / "gone.safetensors"), 100, 5, "a" * 64, inode=1, device=1)
    # Another device and inode, same size and mtime, old path gone: one candidate, accepted.
    assert cache.find_moved(str(tmp_path / "new.safetensors"), 100, 5, inode=9, device=2) == "a" * 64
    cache.put(str(tmp_path / "g1.safetensors"), 200, 5, "b" * 64, inode=1, device=1)
    cache.put(str(tmp_path / "g2.safetensors"), 200, 5, "c" * 64, inode=2, device=1)
    # Two look-alike vanished entries: a guess, so no match (the file will be hashed).
    assert cache.find_moved(str(tmp_path / "x.safetensors"), 200, 5, inode=7, device=3) is None
    # Same device but another inode: a different file, not a rename.
    cache.put(str(tmp_path / "g3.safetensors"), 300, 5, "d" * 64, inode=3, device=1)
    assert cache.find_moved(str(tmp_path / "y.safetensors"), 300, 5, inode=4, device=1) is None


def test_a_copy_is_not_taken_for_a_move(tmp_path: Path, reads: list[str]) -> None:
    (a,) = make_files(tmp_path, 1, 5000)
    cache_file = str(tmp_path / "hashes.json")
    Hasher(HashCache(cache_file)).hash_all(items([a]))
    reads.clear()
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(a.read_bytes())
    os.utime(copy, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    report = Hasher(HashCache(cache_file)).hash_all(items([a, copy]))
    assert reads == [str(copy)]  # the original still exists, so the copy is hashed
    assert report.hashes[str(copy)] == report.hashes[str(a)]


def test_corrupt_cache_file_is_tolerated(tmp_path: Path) -> None:
    paths = make_files(tmp_path / "m", 2, 1000)
    cache_file = tmp_path / "hashes.json"
    cache_file.write_text('{"version": 1, "entries": {"broken', encoding="utf-8")
    report = Hasher(HashCache(str(cache_file))).hash_all(items(paths))
    assert report.computed == 2
    assert (tmp_path / "hashes.json.corrupt").exists()  # kept for the curious
    data = json.loads(cache_file.read_text(encoding="utf-8"))
    assert len(data["entries"]) == 2
    # Valid JSON with nonsense entries: the bad entries are skipped, the good one is used.
    data["entries"]["/nowhere"] = {"size": "big"}
    cache_file.write_text(json.dumps(data), encoding="utf-8")
    assert len(HashCache(str(cache_file))) == 2
    cache_file.write_text("[1, 2]", encoding="utf-8")
    assert len(HashCache(str(cache_file))) == 0


def test_webui_cache_json_reader(tmp_path: Path) -> None:
    model = tmp_path / "models" / "Lora" / "ink.safetensors"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"lora")
    sha = hashlib.sha256(b"lora").hexdigest()
    cache_json = tmp_path / "cache.json"
    entries = {
        "lora/ink": {"mtime": os.path.getmtime(model), "sha256": sha},
        "lora/stale": {"mtime": os.path.getmtime(model) - 10, "sha256": sha},
        "lora/bad": {"mtime": os.path.getmtime(model), "sha256": "not-a-hash"},
    }
    cache_json.write_text(json.dumps({"hashes": entries, "hashes-addnet": {"lora/ink": entries["lora/ink"]}}))
    reader = WebUIHashCacheJson(str(cache_json))
    assert reader(str(model), "lora/ink") == sha
    assert reader(str(model), "lora/stale") is None  # the file changed since WebUI hashed it
    assert reader(str(model), "lora/bad") is None
    assert reader(str(model), "lora/unknown") is None
    assert reader(str(model), None) is None
    assert reader(str(tmp_path / "missing.safetensors"), "lora/ink") is None
    # The file is re-read when WebUI rewrites it.
    entries["lora/other"] = entries.pop("lora/ink")
    cache_json.write_text(json.dumps({"hashes": entries}) + " " * 7)
    assert reader(str(model), "lora/ink") is None
    assert reader(str(model), "lora/other") == sha
    cache_json.write_text("{not json")
    assert reader(str(model), "lora/other") is None
    assert cache_json.exists()  # WebUI's file is never moved aside
    assert WebUIHashCacheJson(str(tmp_path / "absent.json"))(str(model), "lora/ink") is None


def test_external_lookup_is_used_and_stored(tmp_path: Path, reads: list[str]) -> None:
    lora_dir = tmp_path / "Lora"
    (a,) = make_files(lora_dir, 1, 2000)
    cache_json = tmp_path / "cache.json"
    cache_json.write_text(json.dumps({"hashes": {"lora/m000": {"mtime": os.path.getmtime(a), "sha256": expected(a).upper()}}}))
    records = LibraryScanner().scan({"lora": [str(lora_dir)]}).records
    cache_file = str(tmp_path / "hashes.json")
    report = Hasher(HashCache(cache_file), external_lookup=WebUIHashCacheJson(str(cache_json))).hash_all(records)
    assert reads == []
    assert report.from_external == 1 and report.hashes[str(a)] == expected(a)
    # Stored in our cache: no external lookup is needed next time.
    assert Hasher(HashCache(cache_file)).hash_all(records).from_cache == 1


def test_failing_external_lookup_only_costs_a_rehash(tmp_path: Path) -> None:
    (a,) = make_files(tmp_path, 1, 2000)

    def broken(path, title):
        raise RuntimeError("WebUI is busy")

    report = Hasher(HashCache(None), external_lookup=broken).hash_all(items([a]))
    assert report.computed == 1 and report.hashes[str(a)] == expected(a)


def test_cancel_stops_early_and_keeps_finished_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "_PROGRESS_INTERVAL_S", 0.0)  # every update reaches the callback
    paths = make_files(tmp_path, 20, 200_000)
    cancel = threading.Event()
    cache = HashCache(str(tmp_path / "hashes.json"))

    def on_progress(state):
        if state.files_done >= 2:
            cancel.set()

    report = Hasher(cache, workers=1, buffer_size=64 * 1024).hash_all(items(paths), on_progress, cancel)
    assert report.cancelled
    assert 2 <= report.computed < 20
    for path, sha in report.hashes.items():
        assert sha == expected(Path(path))
    assert len(HashCache(str(tmp_path / "hashes.json"))) == report.computed  # saved on the way out


def test_background_task_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    paths = make_files(tmp_path, 6, 100_000)
    task = Hasher(HashCache(None), workers=2).start(items(paths))
    report = task.wait(timeout=30)
    assert task.done and report is not None and task.error is None
    assert len(report.hashes) == 6
    assert task.progress.files_done == 6

    gate = threading.Event()

    def slow(state):
        gate.wait(5)

    more = make_files(tmp_path / "more", 6, 100_000)
    task = Hasher(HashCache(None), workers=1, buffer_size=64 * 1024).start(items(more), progress=slow)
    task.cancel()
    gate.set()
    report = task.wait(timeout=30)
    assert report is not None and report.cancelled and report.computed < 6


def test_file_changing_while_hashed_is_not_cached(tmp_path: Path) -> None:
    (a,) = make_files(tmp_path, 1, 1000)
    item = HashItem.from_path(str(a))
    with a.open("ab") as handle:  # grows after it was listed, like a download in progress
        handle.write(b"tail")
    cache = HashCache(None)
    report = Hasher(cache).hash_all([item])
    assert str(a) in report.errors and "changed while" in report.errors[str(a)]
    assert len(cache) == 0


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    item = HashItem(str(tmp_path / "gone.safetensors"), 10, 1)
    report = Hasher(HashCache(None)).hash_all([item])
    assert str(tmp_path / "gone.safetensors") in report.errors
    assert report.errors[str(tmp_path / "gone.safetensors")].startswith("Could not read")


def test_record_shows_autov2_like_webui(tmp_path: Path) -> None:
    (a,) = make_files(tmp_path, 1, 1000)
    record = LibraryScanner().scan({"lora": [str(tmp_path)]}).records[0]
    record.sha256 = Hasher(HashCache(None)).hash_all([record]).hashes[record.path]
    assert record.autov2 == expected(a)[:10].upper()
    assert record.to_dict()["autov2"] == record.autov2


def test_prune_forgets_long_gone_files_only(tmp_path: Path) -> None:
    now = [1_000_000.0]
    cache = HashCache(None, clock=lambda: now[0])
    (a,) = make_files(tmp_path, 1, 10)
    cache.put(str(a), 10, 1, "a" * 64)
    cache.put(str(tmp_path / "gone"), 10, 2, "b" * 64)
    now[0] += 40 * 86400
    assert cache.prune_missing(max_age_days=30) == 1
    assert len(cache) == 1 and cache.paths_for_hash("A" * 64) == [os.path.normcase(str(a))]


# -- WebUI 1.9+ diskcache store ------------------------------------------------------------


def make_diskcache_db(cache_dir: Path, rows: dict[str, tuple[int, str | None, bytes]]) -> None:
    """A `cache/hashes/cache.db` with diskcache's Cache table (schema as diskcache 5.6 creates it)."""
    import sqlite3

    folder = cache_dir / "hashes"
    folder.mkdir(parents=True)
    con = sqlite3.connect(folder / "cache.db")
    con.execute(
        "CREATE TABLE Cache ( rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, store_time REAL, "
        "expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0, tag BLOB, size INTEGER DEFAULT 0, "
        "mode INTEGER DEFAULT 0, filename TEXT, value BLOB)"
    )
    for key, (mode, filename, value) in rows.items():
        con.execute(
            "INSERT INTO Cache (key, raw, store_time, mode, filename, value) VALUES (?, 1, 0, ?, ?, ?)",
            (key, mode, filename, value),
        )
    con.commit()
    con.close()


def test_webui_diskcache_reader(tmp_path: Path) -> None:
    import pickle

    from model_workbench.library.webui_hash_cache import WebUIHashCacheDir, webui_hash_lookup

    model = tmp_path / "ink.safetensors"
    model.write_bytes(b"lora")
    sha = hashlib.sha256(b"lora").hexdigest()
    mtime = os.path.getmtime(model)
    canary = tmp_path / "canary"
    canary.write_text("still here")

    class Remove:
        def __reduce__(self):
            return (os.remove, (str(canary),))

    entry = pickle.dumps({"mtime": mtime, "sha256": sha}, protocol=pickle.HIGHEST_PROTOCOL)
    make_diskcache_db(
        tmp_path / "cache",
        {
            "lora/ink": (4, None, entry),
            "lora/stale": (4, None, pickle.dumps({"mtime": mtime - 5, "sha256": sha})),
            "lora/evil": (4, None, pickle.dumps({"mtime": mtime, "sha256": sha, "x": Remove()})),
            "lora/in-a-file": (4, "ab/cd.val", b""),
            "lora/text": (3, None, b"not a pickle"),
        },
    )
    reader = WebUIHashCacheDir(str(tmp_path / "cache"))
    assert reader(str(model), "lora/ink") == sha
    assert reader(str(model), "lora/stale") is None
    assert reader(str(model), "lora/evil") is None
    assert canary.exists()  # the pickle's payload never ran
    assert reader(str(model), "lora/in-a-file") is None
    assert reader(str(model), "lora/text") is None
    assert reader(str(model), "lora/unknown") is None
    reader.close()
    assert WebUIHashCacheDir(str(tmp_path / "nowhere"))(str(model), "lora/ink") is None

    # The data folder decides the format, as WebUI does.
    assert isinstance(webui_hash_lookup(str(tmp_path)), WebUIHashCacheDir)
    assert webui_hash_lookup(str(tmp_path))(str(model), "lora/ink") == sha
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "cache.json").write_text(json.dumps({"hashes": {"lora/ink": {"mtime": mtime, "sha256": sha}}}))
    assert webui_hash_lookup(str(tmp_path / "old"))(str(model), "lora/ink") == sha


def test_webui_diskcache_written_by_diskcache_itself(tmp_path: Path) -> None:
    diskcache = pytest.importorskip("diskcache")
    from model_workbench.library.webui_hash_cache import WebUIHashCacheDir

    model = tmp_path / "base.safetensors"
    model.write_bytes(b"checkpoint")
    sha = hashlib.sha256(b"checkpoint").hexdigest()
    # Exactly how WebUI 1.10 creates and fills it (modules/cache.py make_cache, modules/hashes.py).
    store = diskcache.Cache(str(tmp_path / "cache" / "hashes"), size_limit=2**32, disk_min_file_size=2**18)
    store["checkpoint/base.safetensors"] = {"mtime": os.path.getmtime(model), "sha256": sha}
    reader = WebUIHashCacheDir(str(tmp_path / "cache"))
    assert reader(str(model), "checkpoint/base.safetensors") == sha  # while WebUI still has it open
    store.close()
    assert reader(str(model), "checkpoint/base.safetensors") == sha


def test_progress_is_throttled_but_the_final_state_always_arrives(tmp_path: Path) -> None:
    cache = HashCache(None)
    targets = []
    for i in range(300):
        path = str(tmp_path / f"cached{i}.safetensors")
        cache.put(path, 10, 1, f"{i:064x}")
        targets.append(HashItem(path, 10, 1))
    seen = []
    report = Hasher(cache).hash_all(targets, progress=seen.append)
    assert report.from_cache == 300
    assert 1 <= len(seen) < 10
    assert (seen[-1].files_done, seen[-1].bytes_done) == (300, 3000)
