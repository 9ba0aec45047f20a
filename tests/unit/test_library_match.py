"""Matching local hashes to Civitai: chunking, memory of "not on Civitai", updates, sidecar needs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from model_workbench.library.kinds import ModelKind
from model_workbench.library.match_store import MatchStore
from model_workbench.library.matching import (
    STATUS_MATCHED,
    STATUS_NOT_ON_CIVITAI,
    STATUS_REMOVED,
    STATUS_UNHASHED,
    STATUS_UNKNOWN,
    STATUS_UPDATE_AVAILABLE,
    CivitaiMatcher,
    installed_index,
    newest_of,
    sidecar_needs,
)
from model_workbench.library.scan import ModelRecord

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "civitai-samples"
DAY = 86400.0


def sha(i: int) -> str:
    return f"{i:064x}"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeCivitai:
    """Answers like the bulk by-hash POST: only known hashes come back, keyed by SHA256."""

    def __init__(self, known: dict[str, dict]) -> None:
        self.known = known
        self.calls: list[list[str]] = []
        self.fail = False

    def __call__(self, hashes: list[str]) -> dict:
        if self.fail:
            raise ConnectionError("Civitai did not answer; check your connection and try again.")
        assert len(hashes) <= 100
        self.calls.append(list(hashes))
        # Civitai stores hashes upper-case; the client keys its answer by what it got back.
        return {h.upper(): self.known[h] for h in hashes if h in self.known}


def version(version_id: int, model_id: int, name: str = "v1.0", model_name: str = "Ink") -> dict:
    return {
        "id": version_id,
        "modelId": model_id,
        "name": name,
        "baseModel": "SDXL 1.0",
        "trainedWords": ["ink style", ""],
        "model": {"name": model_name, "type": "LORA"},
    }


@pytest.fixture()
def clock() -> Clock:
    return Clock()


def test_bulk_lookup_is_chunked(clock: Clock, tmp_path: Path) -> None:
    hashes = [sha(i) for i in range(250)]
    civitai = FakeCivitai({sha(i): version(1000 + i, 10 + i) for i in range(0, 250, 2)})
    report = CivitaiMatcher(MatchStore(str(tmp_path / "m.json"), clock), civitai).match(hashes + hashes[:5])
    assert [len(c) for c in civitai.calls] == [100, 100, 50]
    assert report.lookup_calls == 3
    assert len(report.matched) == 125 and len(report.not_found) == 125
    assert sorted(h for c in civitai.calls for h in c) == sorted(hashes)


def test_real_by_hash_answer_is_parsed(clock: Clock) -> None:
    answer = json.loads(next(SAMPLES.glob("model-versions-by-hash_*.json")).read_text(encoding="utf-8"))
    file_sha = answer["files"][0]["hashes"]["SHA256"].lower()
    store = MatchStore(None, clock)
    report = CivitaiMatcher(store, FakeCivitai({file_sha: answer})).match([file_sha])
    match = report.matched[file_sha]
    assert (match.model_id, match.version_id) == (answer["modelId"], answer["id"])
    assert match.model_name == answer["model"]["name"] and match.version_name == answer["name"]
    assert match.base_model == "Flux.1 D" and match.model_type == "LORA"
    assert match.trained_words == answer["trainedWords"]
    assert report.versions[file_sha] is answer  # the raw answer, for the .civitai.info sidecar
    assert match.url() == f"https://civitai.com/models/{answer['modelId']}?modelVersionId={answer['id']}"


def test_not_on_civitai_is_remembered_and_asked_again_after_expiry(clock: Clock, tmp_path: Path) -> None:
    path = str(tmp_path / "matches.json")
    civitai = FakeCivitai({})
    matcher = CivitaiMatcher(MatchStore(path, clock), civitai, recheck_not_found_days=7)
    assert matcher.match([sha(1)]).not_found == [sha(1)]
    assert matcher.status(sha(1)) == STATUS_NOT_ON_CIVITAI
    # The next scans, even after a restart, do not ask again...
    clock.now += 6 * DAY
    matcher = CivitaiMatcher(MatchStore(path, clock), civitai, recheck_not_found_days=7)
    report = matcher.match([sha(1)])
    assert len(civitai.calls) == 1 and report.skipped == 1 and report.lookup_calls == 0
    # ...until the answer is older than the configured number of days.
    clock.now += 2 * DAY
    assert matcher.status(sha(1)) == STATUS_UNKNOWN
    civitai.known[sha(1)] = version(5, 6)  # uploaded meanwhile
    report = matcher.match([sha(1)])
    assert len(civitai.calls) == 2 and sha(1) in report.matched
    assert matcher.status(sha(1)) in (STATUS_MATCHED, STATUS_UPDATE_AVAILABLE)
    assert MatchStore(path, clock).not_found_since(sha(1)) is None


def test_force_asks_again(clock: Clock) -> None:
    civitai = FakeCivitai({sha(1): version(5, 6)})
    matcher = CivitaiMatcher(MatchStore(None, clock), civitai)
    matcher.match([sha(1), sha(2)])
    matcher.match([sha(1), sha(2)])
    assert len(civitai.calls) == 1
    matcher.match([sha(1), sha(2)], force=True)
    assert len(civitai.calls) == 2


def test_failed_lookup_is_not_taken_for_not_found(clock: Clock) -> None:
    civitai = FakeCivitai({})
    civitai.fail = True
    matcher = CivitaiMatcher(MatchStore(None, clock), civitai)
    report = matcher.match([sha(1)])
    assert report.error and "check your connection" in report.error
    assert report.not_found == [] and matcher.status(sha(1)) == STATUS_UNKNOWN
    civitai.fail = False
    assert matcher.match([sha(1)]).lookup_calls == 1


def test_update_available_from_model_versions(clock: Clock, tmp_path: Path) -> None:
    path = str(tmp_path / "matches.json")
    civitai = FakeCivitai({sha(1): version(100, 7), sha(2): version(200, 8), sha(3): version(101, 7, "v2")})
    asked: list[int] = []
    versions = {7: [{"id": 101, "name": "v2"}, {"id": 100, "name": "v1.0"}], 8: [200]}

    def model_versions(model_id: int):
        asked.append(model_id)
        return versions[model_id]

    matcher = CivitaiMatcher(MatchStore(path, clock), civitai, model_versions, recheck_updates_days=1)
    matcher.match([sha(1), sha(2), sha(3)])
    assert sorted(asked) == [7, 8]  # once per model, not per file
    store = MatchStore(path, clock)  # persisted
    old = store.get(sha(1))
    assert old.update_available and (old.newest_version_id, old.newest_version_name) == (101, "v2")
    assert not store.get(sha(2)).update_available
    assert not store.get(sha(3)).update_available  # the file is the newest version itself
    assert matcher.status(sha(1)) == STATUS_UPDATE_AVAILABLE and matcher.status(sha(2)) == STATUS_MATCHED
    assert store.get(sha(1)).to_dict()["update_available"] is True

    # Within a day no model is asked again; after it, known models are re-checked.
    matcher.match([sha(1), sha(2)])
    assert len(asked) == 2
    clock.now += 2 * DAY
    versions[8] = [{"id": 300, "name": "v3", "status": "Published"}, 200]
    matcher.match([sha(1), sha(2)])
    assert len(asked) == 4 and len(civitai.calls) == 1
    assert matcher.status(sha(2)) == STATUS_UPDATE_AVAILABLE


def test_update_available_from_versions_in_the_lookup_answer(clock: Clock) -> None:
    answer = version(100, 7)
    answer["model"]["modelVersions"] = [{"id": 150, "name": "v1.5"}, {"id": 100}]
    matcher = CivitaiMatcher(MatchStore(None, clock), FakeCivitai({sha(1): answer}))
    matcher.match([sha(1)])
    assert matcher.store.get(sha(1)).newest_version_id == 150


def test_failing_update_check_keeps_the_match(clock: Clock) -> None:
    def broken(model_id):
        raise TimeoutError("slow")

    matcher = CivitaiMatcher(MatchStore(None, clock), FakeCivitai({sha(1): version(1, 2)}), broken)
    report = matcher.match([sha(1)])
    assert sha(1) in report.matched and report.updates_checked == 0
    assert matcher.status(sha(1)) == STATUS_MATCHED


def test_newest_of_skips_unpublished_and_accepts_ids() -> None:
    assert newest_of([{"id": 9, "status": "Draft"}, {"id": 8, "name": "v8"}]) == (8, "v8")
    assert newest_of(["12", 11]) == (12, None)
    assert newest_of([]) is None


def test_invalid_and_mixed_case_hashes(clock: Clock) -> None:
    civitai = FakeCivitai({sha(1): version(1, 2)})
    matcher = CivitaiMatcher(MatchStore(None, clock), civitai)
    report = matcher.match([sha(1).upper(), "ABC123", sha(1)])
    assert report.invalid == ["ABC123"] and civitai.calls == [[sha(1)]]
    assert matcher.status(sha(1).upper()) == STATUS_MATCHED
    assert matcher.status(None) == STATUS_UNHASHED


def test_answer_without_ids_is_ignored(clock: Clock) -> None:
    matcher = CivitaiMatcher(MatchStore(None, clock), FakeCivitai({sha(1): {"name": "odd"}}))
    report = matcher.match([sha(1)])
    assert report.matched == {} and report.not_found == []
    assert matcher.status(sha(1)) == STATUS_UNKNOWN


def test_cancel_between_chunks(clock: Clock) -> None:
    import threading

    cancel = threading.Event()
    civitai = FakeCivitai({})
    matcher = CivitaiMatcher(MatchStore(None, clock), civitai)
    report = matcher.match([sha(i) for i in range(250)], cancel=cancel, progress=lambda p: cancel.set())
    assert report.cancelled and len(civitai.calls) == 1


def test_corrupt_match_store_starts_empty(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "matches.json"
    path.write_text("{oops", encoding="utf-8")
    store = MatchStore(str(path), clock)
    assert store.all_matches() == []
    CivitaiMatcher(store, FakeCivitai({sha(1): version(1, 2)})).match([sha(1)])
    assert [m.version_id for m in MatchStore(str(path), clock).all_matches()] == [1]


def record(tmp_path: Path, name: str, digest: str | None, preview: bool, info: bool, js: bool) -> ModelRecord:
    return ModelRecord(
        kind=ModelKind.LORA,
        path=str(tmp_path / f"{name}.safetensors"),
        root=str(tmp_path),
        name=name,
        size=1,
        mtime_ns=1,
        preview_path=str(tmp_path / f"{name}.preview.png") if preview else None,
        has_civitai_info=info,
        has_user_metadata=js,
        sha256=digest,
    )


def test_sidecar_needs_and_installed_index(tmp_path: Path, clock: Clock) -> None:
    store = MatchStore(None, clock)
    CivitaiMatcher(store, FakeCivitai({sha(1): version(10, 1), sha(2): version(20, 2)})).match([sha(1), sha(2), sha(3)])
    records = [
        record(tmp_path, "complete", sha(1), True, True, True),
        record(tmp_path, "bare", sha(2), False, False, True),
        record(tmp_path, "copy", sha(2), True, False, False),
        record(tmp_path, "unknown", sha(3), False, False, False),  # not on Civitai: nothing to fill
        record(tmp_path, "unhashed", None, False, False, False),
    ]
    needs = sidecar_needs(records, store)
    assert [(n.record.name, n.missing) for n in needs] == [
        ("bare", ("preview", "civitai_info")),
        ("copy", ("json", "civitai_info")),
    ]
    assert needs[0].match.version_id == 20
    index = installed_index(records, store)
    assert index.has_version(20) and index.has_model(1) and not index.has_version(30)
    assert index.by_version[20] == [records[1].path, records[2].path]


def test_matches_follow_a_renamed_file(tmp_path: Path, clock: Clock) -> None:
    """The store is keyed by hash: a file renamed on disk keeps its match without a lookup."""
    store = MatchStore(None, clock)
    civitai = FakeCivitai({sha(1): version(10, 1)})
    CivitaiMatcher(store, civitai).match([sha(1)])
    renamed = record(tmp_path, "renamed", sha(1), True, True, True)
    CivitaiMatcher(store, civitai).match([renamed.sha256])
    assert len(civitai.calls) == 1
    assert installed_index([renamed], store).has_version(10)


def test_match_data_round_trips(tmp_path: Path, clock: Clock) -> None:
    path = str(tmp_path / "m.json")
    store = MatchStore(path, clock)
    CivitaiMatcher(store, FakeCivitai({sha(1): version(10, 1)}), lambda m: [11, 10]).match([sha(1)])
    before = copy.deepcopy(store.get(sha(1)).to_dict())
    assert MatchStore(path, clock).get(sha(1)).to_dict() == before
    store.forget(sha(1))
    store.save()
    assert MatchStore(path, clock).get(sha(1)) is None


def test_index_versions_by_sha256_adapts_the_bulk_answer(clock: Clock) -> None:
    from model_workbench.library.matching import index_versions_by_sha256

    answer = json.loads(next(SAMPLES.glob("model-versions-by-hash_*.json")).read_text(encoding="utf-8"))
    other = version(77, 8)
    other["files"] = [
        {"hashes": {"SHA256": sha(5).upper()}},
        {"hashes": {"AutoV2": "ABCDEF0123"}},  # no SHA256 yet (still being scanned on Civitai)
        {"hashes": None},
    ]
    index = index_versions_by_sha256([answer, other, "junk"])
    file_sha = answer["files"][0]["hashes"]["SHA256"].lower()
    assert set(index) == {file_sha, sha(5)}
    assert index[sha(5)] is other
    matcher = CivitaiMatcher(MatchStore(None, clock), lambda hashes: index_versions_by_sha256([answer, other]))
    report = matcher.match([file_sha, sha(5), sha(6)])
    assert set(report.matched) == {file_sha, sha(5)} and report.not_found == [sha(6)]


def test_update_badges_can_leave_out_early_access_and_paid_versions(clock: Clock) -> None:
    future = "2099-01-01T00:00:00.000Z"
    versions = [{"id": 104, "name": "paid", "paidAccess": {"buzz": 500}},
                {"id": 103, "name": "ea", "earlyAccessEndsAt": future},
                {"id": 102, "name": "ea2", "availability": "EarlyAccess"},
                {"id": 101, "name": "v2", "earlyAccessEndsAt": "2020-01-01T00:00:00Z", "availability": "Public"},
                {"id": 100, "name": "v1"}]
    assert newest_of(versions) == (104, "paid")
    assert newest_of(versions, skip_restricted=True, now=clock()) == (101, "v2")
    for skip, newest in ((True, 101), (False, 104)):
        matcher = CivitaiMatcher(MatchStore(None, clock), FakeCivitai({sha(1): version(100, 7)}), lambda _id: versions,
                                 skip_early_access=skip)
        matcher.match([sha(1)])
        assert matcher.store.get(sha(1)).newest_version_id == newest


def test_a_model_removed_from_civitai_is_recorded_once(clock: Clock, tmp_path: Path) -> None:
    path = str(tmp_path / "matches.json")
    asked: list[int] = []

    def model_versions(model_id: int):
        asked.append(model_id)
        return None  # the model's page answers 404: removed from Civitai

    civitai = FakeCivitai({sha(1): version(100, 7)})
    matcher = CivitaiMatcher(MatchStore(path, clock), civitai, model_versions)
    report = matcher.match([sha(1)])
    assert report.removed == [7] and report.error is None
    assert matcher.status(sha(1)) == STATUS_REMOVED
    assert MatchStore(path, clock).removed_since(7) is not None  # persisted
    clock.now += 2 * DAY
    again = matcher.match([sha(1)])  # the next scans neither ask again nor report it again
    assert again.removed == [] and asked == [7] and matcher.status(sha(1)) == STATUS_REMOVED
    clock.now += 8 * DAY
    matcher.model_versions = lambda _id: [{"id": 100, "name": "v1"}]  # back on Civitai
    matcher.match([sha(1)])
    assert matcher.status(sha(1)) == STATUS_MATCHED
