"""The download engine against the fake server: every fault mode installs nothing broken and says why."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from model_workbench.civitai import CivitaiClient
from model_workbench.downloads import DownloadError, DownloadOptions, DownloadRequest, Transfer
from model_workbench.downloads.errors import Cancelled
from model_workbench.downloads.part_file import PartFile
from model_workbench.downloads.state import PartState, Segment, part_path, state_path
from tests.support.civitai_fixtures import KEY

MIB = 1 << 20


def options(**kw) -> DownloadOptions:
    base = dict(sleep=lambda s: None, read_timeout=5.0, min_segment_bytes=256 * 1024, max_attempts=3)
    base.update(kw)
    return DownloadOptions(**base)


def payload(n: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB, compressible-proof enough
    return (block * (n // len(block) + 1))[:n]


def request_for(f, dest: Path, **kw) -> DownloadRequest:
    kw.setdefault("filename", f.name)
    kw.setdefault("sha256", f.sha256)
    return DownloadRequest(url=f.download_url, dest_dir=dest, version_id=f.version_id, file_id=f.file_id, **kw)


def only_installed(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def storage_gets(server) -> list:
    return [r for r in server.requests_to("storage") if r.method == "GET"]


# -- success paths ----------------------------------------------------------------------------
def test_single_stream_installs_verified_file(server, client, tmp_path):
    f = server.add_file(data=payload(3 * MIB), name="castle.safetensors")
    events = []
    result = Transfer(client, request_for(f, tmp_path), options(), progress=events.append).run()
    assert result.path == tmp_path / "castle.safetensors" and not result.reused
    assert result.sha256 == f.sha256 and result.size == f.size
    assert result.path.read_bytes() == f.path.read_bytes()
    assert only_installed(tmp_path) == ["castle.safetensors"]
    assert {e.phase for e in events} >= {"resolving", "verifying"}
    assert all("Authorization" not in r.headers for r in server.requests_to("storage"))


def test_segmented_download_uses_parallel_ranges(server, client, tmp_path):
    f = server.add_file(data=payload(4 * MIB, seed=2), name="big.safetensors")
    result = Transfer(client, request_for(f, tmp_path), options(connections=4)).run()
    assert result.path.read_bytes() == f.path.read_bytes() and result.sha256 == f.sha256
    ranges = sorted(r.headers.get("Range") for r in storage_gets(server) if r.headers.get("Range"))
    assert ranges == ["bytes=0-1048575", "bytes=1048576-2097151", "bytes=2097152-3145727", "bytes=3145728-4194303"]
    assert only_installed(tmp_path) == ["big.safetensors"]


def test_segmented_falls_back_when_ranges_are_not_offered(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=3))
    server.faults.no_accept_ranges = True
    result = Transfer(client, request_for(f, tmp_path), options(connections=4)).run()
    assert result.sha256 == f.sha256 and len(storage_gets(server)) == 1


def test_segmented_restarts_cleanly_when_range_is_ignored(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=4))
    server.faults.ignore_range = True  # advertises Accept-Ranges but answers 200 with the whole file
    result = Transfer(client, request_for(f, tmp_path), options(connections=4)).run()
    assert result.path.read_bytes() == f.path.read_bytes()
    assert only_installed(tmp_path) == [f.name]


@pytest.mark.parametrize("style", ["plain", "utf8-raw", "rfc5987"])
def test_filename_from_content_disposition(server, client, tmp_path, style):
    f = server.add_file(data=b"weights" * 100, name="Château 城 v2.safetensors", cd_style=style)
    result = Transfer(client, request_for(f, tmp_path, filename=None), options()).run()
    assert result.path.name == "Château 城 v2.safetensors"


def test_filename_without_any_hint(server, client, tmp_path):
    f = server.add_file(data=b"weights" * 100, cd_style=None)
    result = Transfer(client, request_for(f, tmp_path, filename=None), options()).run()
    assert result.path.name == f"civitai-{f.version_id}.safetensors"


def test_hostile_filename_is_sanitised(server, client, tmp_path):
    f = server.add_file(data=b"weights" * 100, name="../../evil:name?.safetensors")
    dest = tmp_path / "models"
    result = Transfer(client, request_for(f, dest), options()).run()
    assert result.path.parent == dest and result.path.name == "evil_name_.safetensors"
    assert only_installed(tmp_path) == ["models"]


def test_unknown_length_still_verified(server, client, tmp_path):
    f = server.add_file(data=payload(MIB + 5, seed=5))
    server.faults.no_content_length = True
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.sha256 == f.sha256


# -- existing files -----------------------------------------------------------------------------
def test_existing_same_hash_is_reused_without_downloading(server, client, tmp_path):
    f = server.add_file(data=b"same" * 1000, name="same.safetensors")
    (tmp_path / "same.safetensors").write_bytes(f.path.read_bytes())
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.reused and storage_gets(server) == [] and server.requests_to("api") == []


def test_existing_different_file_is_never_overwritten(server, client, tmp_path):
    f = server.add_file(data=b"new" * 1000, name="taken.safetensors")
    (tmp_path / "taken.safetensors").write_bytes(b"the user's own file")
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options()).run()
    assert info.value.kind == "exists" and "not overwritten" in str(info.value)
    assert (tmp_path / "taken.safetensors").read_bytes() == b"the user's own file"
    renamed = Transfer(client, request_for(f, tmp_path), options(on_conflict="rename")).run()
    assert renamed.path.name == "taken (2).safetensors" and renamed.sha256 == f.sha256
    assert (tmp_path / "taken.safetensors").read_bytes() == b"the user's own file"


# -- fault modes: nothing broken installed, the right message ----------------------------------------
def test_dropped_connection_resumes_with_range_on_a_fresh_signed_url(server, client, tmp_path):
    f = server.add_file(data=payload(3 * MIB, seed=6))
    server.faults.drop_after = MIB + 123
    server.faults.drop_times = 1
    issued = server.signed_urls_issued
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.path.read_bytes() == f.path.read_bytes()
    gets = storage_gets(server)
    assert len(gets) == 2 and gets[1].headers["Range"].startswith("bytes=")
    assert int(gets[1].headers["Range"][6:-1]) >= MIB  # resumed, not restarted
    assert server.signed_urls_issued - issued == 2  # each attempt asked Civitai for a fresh URL


def test_connection_that_keeps_dropping_fails_and_keeps_part(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=7))
    server.faults.drop_after = 256 * 1024
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options(max_attempts=2)).run()
    err = info.value
    assert err.kind == "connection" and err.part_kept and "partial file is kept" in str(err)
    assert "Retry" in str(err)
    assert not (tmp_path / f.name).exists()
    assert part_path(tmp_path / f.name).exists() and state_path(tmp_path / f.name).exists()
    server.faults.reset()  # the next Retry resumes and completes
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.sha256 == f.sha256 and only_installed(tmp_path) == [f.name]


def test_short_body_is_not_installed(server, client, tmp_path):
    f = server.add_file(data=payload(MIB, seed=8))
    server.faults.short_body = True  # Content-Length promises more than is sent
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path, sha256=None), options(max_attempts=2)).run()
    assert info.value.kind == "connection"
    assert not (tmp_path / f.name).exists()


def test_corrupted_byte_fails_the_hash_and_installs_nothing(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=9))
    server.faults.corrupt_at = MIB + 7
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options()).run()
    assert info.value.kind == "hash" and "SHA256" in str(info.value) and "not installed" in str(info.value)
    assert only_installed(tmp_path) == []  # the damaged part is gone too


def test_corrupted_byte_is_caught_in_segmented_mode(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=10))
    server.faults.corrupt_at = 1536 * 1024 + 3
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options(connections=4)).run()
    assert info.value.kind == "hash" and only_installed(tmp_path) == []


def test_stalled_server_times_out_and_keeps_part(server, client, tmp_path):
    f = server.add_file(data=payload(MIB, seed=11))
    server.faults.hang_storage = True
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options(read_timeout=0.3, max_attempts=2)).run()
    assert info.value.kind == "stalled" and "stalled" in str(info.value)
    assert not (tmp_path / f.name).exists()


def test_stall_in_the_middle_keeps_received_bytes(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=12))
    server.faults.throttle_bps = 4 * MIB
    server.faults.drop_after = None
    cancel_after = []

    def progress(p):
        if p.bytes >= MIB // 2 and not cancel_after:
            cancel_after.append(p.bytes)
            server.faults.hang_storage = True  # the next attempt's request will hang

    server.faults.drop_after = MIB
    server.faults.drop_times = 1
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options(read_timeout=0.3, max_attempts=2,
                                                             progress_interval=0.0), progress=progress).run()
    assert info.value.kind == "stalled" and info.value.part_kept
    state = PartState.load(tmp_path / f.name)
    assert state is not None and part_path(tmp_path / f.name).stat().st_size >= MIB // 2


def test_html_page_from_storage_is_never_installed(server, client, tmp_path):
    f = server.add_file(data=payload(MIB, seed=13))
    server.faults.storage_html = True
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options()).run()
    assert info.value.kind == "error-body" and "web page" in str(info.value)
    assert only_installed(tmp_path) == []


def test_error_json_served_as_octet_stream_is_never_installed(server, client, tmp_path):
    body = b'{"error":"Unauthorized","message":"The creator of this asset requires you to be logged in"}'
    f = server.add_file(data=body, name="looks_fine.safetensors")
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path, sha256=None), options()).run()
    assert info.value.kind == "error-body" and only_installed(tmp_path) == []


@pytest.mark.parametrize("attrs, kind, words", [
    ({"require_auth": True}, "AuthRequiredError", "civitai.com/user/account"),
    ({"require_auth": True, "login_redirect": True}, "AuthRequiredError", "API key"),
    ({"usage_control": "Generation"}, "DownloadsDisabledError", "disabled downloads"),
    ({"early_access_deadline": "2030-01-02T03:04:05Z"}, "EarlyAccessError", "2030-01-02 03:04 UTC"),
    ({"mode": "Archived"}, "ArchivedError", "archived"),
])
def test_civitai_refusals_become_clear_messages(server, tmp_path, attrs, kind, words):
    f = server.add_file(data=b"x" * 100, **attrs)
    key = KEY if not attrs.get("require_auth") else None
    with CivitaiClient(server.url, api_key=key, sleep=lambda s: None, max_retries=0) as c, \
            pytest.raises(DownloadError) as info:
        Transfer(c, request_for(f, tmp_path), options()).run()
    assert info.value.kind == kind and words in str(info.value)
    assert only_installed(tmp_path) == []


def test_civitai_outage_page_is_reported(server, client, tmp_path):
    f = server.add_file(data=b"x" * 100)
    server.faults.outage_times = -1
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options()).run()
    assert "Civitai is unavailable" in str(info.value) and info.value.retryable
    assert only_installed(tmp_path) == []


def test_disk_full_keeps_part_and_says_so(server, client, tmp_path):
    f = server.add_file(data=payload(3 * MIB, seed=14))

    class FullDisk(PartFile):
        def write_at(self, offset, data):
            if offset + len(data) > 2 * MIB:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            super().write_at(offset, data)

    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options(), part_file_factory=FullDisk).run()
    err = info.value
    assert err.kind == "write" and err.part_kept and "No space left on device" in str(err)
    assert "Free some disk space" in str(err)
    assert not (tmp_path / f.name).exists()
    state = PartState.load(tmp_path / f.name)
    assert state is not None and part_path(tmp_path / f.name).stat().st_size >= MIB
    result = Transfer(client, request_for(f, tmp_path), options()).run()  # space freed: Retry resumes
    assert result.sha256 == f.sha256
    resumed = storage_gets(server)[-1].headers.get("Range")
    assert resumed and int(resumed[6:-1]) >= MIB


# -- resume after a restart ----------------------------------------------------------------------
def paused_part(server, client, f, dest: Path, at_least: int) -> None:
    """Start a throttled download and cancel it once ``at_least`` bytes are on disk (the part stays)."""
    server.faults.throttle_bps = 4 * MIB  # slow enough that plenty is left to cancel
    transfer = Transfer(client, request_for(f, dest), options(progress_interval=0.0))

    def progress(p):
        if p.bytes >= at_least:
            transfer.cancel.set()

    transfer.progress_cb = progress
    with pytest.raises(Cancelled):
        transfer.run()
    server.faults.reset()


def test_resume_after_restart_rehashes_part_and_continues(server, client, tmp_path):
    f = server.add_file(data=payload(3 * MIB, seed=15))
    paused_part(server, client, f, tmp_path, MIB)
    size_before = part_path(tmp_path / f.name).stat().st_size
    state = json.loads(state_path(tmp_path / f.name).read_text())
    assert state["url"] == f.download_url and "storage" not in json.dumps(state) and KEY not in json.dumps(state)
    server.requests.clear()
    result = Transfer(client, request_for(f, tmp_path), options()).run()  # a new process: only disk state
    assert result.path.read_bytes() == f.path.read_bytes()
    assert storage_gets(server)[0].headers["Range"] == f"bytes={size_before}-"


def test_resume_when_server_ignores_range_starts_over_cleanly(server, client, tmp_path):
    f = server.add_file(data=payload(4 * MIB, seed=16))
    paused_part(server, client, f, tmp_path, MIB // 2)
    server.faults.ignore_range = True
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.path.read_bytes() == f.path.read_bytes()  # no duplicated prefix


def test_resume_416_restarts_from_zero(server, client, tmp_path):
    f = server.add_file(data=payload(MIB, seed=17))
    final = tmp_path / f.name
    # A part longer than the file (e.g. the file was replaced upstream): the Range is unsatisfiable → 416.
    PartState(url=f.download_url, name=f.name, sha256=f.sha256, total=None, segments=[Segment(0, None)]).save(final)
    part_path(final).write_bytes(payload(f.size + 10, seed=99))
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.path.read_bytes() == f.path.read_bytes()
    statuses = [r.headers.get("Range") for r in storage_gets(server)]
    assert statuses[0] == f"bytes={f.size + 10}-" and statuses[1] is None


def test_resume_of_segmented_download(server, client, tmp_path):
    f = server.add_file(data=payload(4 * MIB, seed=18))
    server.faults.throttle_bps = 8 * MIB
    transfer = Transfer(client, request_for(f, tmp_path), options(connections=4, progress_interval=0.0))
    transfer.progress_cb = lambda p: transfer.cancel.set() if p.bytes >= MIB else None
    with pytest.raises(Cancelled):
        transfer.run()
    server.faults.reset()
    state = PartState.load(tmp_path / f.name)
    assert state is not None and state.segmented
    result = Transfer(client, request_for(f, tmp_path), options(connections=4)).run()
    assert result.path.read_bytes() == f.path.read_bytes()


def test_expired_signed_url_is_refreshed(server, client, tmp_path):
    f = server.add_file(data=payload(2 * MIB, seed=19))
    server.faults.signed_url_ttl = -1  # every signed URL is already expired → 403 from storage
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options(max_attempts=2)).run()
    assert info.value.kind == "storage-status" and "HTTP 403" in str(info.value)
    assert server.signed_urls_issued >= 2 and only_installed(tmp_path) == []


def test_stale_part_of_another_file_is_discarded(server, client, tmp_path):
    f = server.add_file(data=payload(MIB, seed=20))
    final = tmp_path / f.name
    PartState(url="https://elsewhere/x", name=f.name, sha256="0" * 64, total=5).save(final)
    part_path(final).write_bytes(b"garbage")
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.sha256 == f.sha256 and only_installed(tmp_path) == [f.name]


# -- the body reader: direct socket reads and the plain httpx fallback give the same results ------------
def test_direct_body_reader_is_used_and_matches(server, client):
    import httpx

    from model_workbench.downloads.direct_body import direct_body

    f = server.add_file(data=payload(3 * MIB + 17, seed=21))
    url = client.resolve_download(f.download_url).url
    with client.http.stream("GET", url) as response:
        body = direct_body(response, MIB, 5.0)
        assert body is not None
        assert b"".join(body) == f.path.read_bytes()
    server.faults.drop_after = MIB
    with client.http.stream("GET", url) as response, pytest.raises(httpx.RemoteProtocolError):
        for _ in direct_body(response, MIB, 5.0):
            pass


def test_direct_body_declines_unknown_length(server, client):
    from model_workbench.downloads.direct_body import direct_body

    f = server.add_file(data=b"x" * 1000)
    server.faults.no_content_length = True
    with client.http.stream("GET", client.resolve_download(f.download_url).url) as response:
        assert direct_body(response, MIB, 5.0) is None


@pytest.mark.parametrize("fault", ["none", "drop", "corrupt", "hang", "html"])
def test_plain_httpx_body_path(server, client, tmp_path, monkeypatch, fault):
    from model_workbench.downloads import streaming

    monkeypatch.setattr(streaming, "USE_DIRECT_BODY", False)
    f = server.add_file(data=payload(2 * MIB, seed=22))
    if fault == "drop":
        server.faults.drop_after, server.faults.drop_times = MIB // 2, 1
    elif fault == "corrupt":
        server.faults.corrupt_at = 99
    elif fault == "hang":
        server.faults.hang_storage = True
    elif fault == "html":
        server.faults.storage_html = True
    run = Transfer(client, request_for(f, tmp_path), options(read_timeout=0.3, max_attempts=2))
    if fault in ("none", "drop"):
        assert run.run().sha256 == f.sha256
        return
    with pytest.raises(DownloadError) as info:
        run.run()
    assert info.value.kind == {"corrupt": "hash", "hang": "stalled", "html": "error-body"}[fault]
    assert not (tmp_path / f.name).exists()


def test_error_page_on_resume_keeps_the_bytes_we_have(server, client, tmp_path):
    f = server.add_file(data=payload(3 * MIB, seed=23))
    paused_part(server, client, f, tmp_path, MIB)
    before = part_path(tmp_path / f.name).read_bytes()
    server.faults.storage_html = True
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options()).run()
    assert info.value.kind == "error-body" and info.value.part_kept
    assert part_path(tmp_path / f.name).read_bytes() == before and not (tmp_path / f.name).exists()
    server.faults.reset()
    assert Transfer(client, request_for(f, tmp_path), options()).run().sha256 == f.sha256



def test_endless_redirects_end_with_our_sentence(server, client, tmp_path):
    f = server.add_file(data=b"loop" * 100)
    server.faults.storage_redirect_loop = True
    with pytest.raises(DownloadError) as info:
        Transfer(client, request_for(f, tmp_path), options()).run()
    text = str(info.value)
    assert "redirected the download" in text and f.name in text
    assert "Exceeded" not in text and "redirects.." not in text
    assert info.value.kind == "redirects" and info.value.retryable
    assert only_installed(tmp_path) == []


@pytest.mark.parametrize("stem", ["城" * 300, "a" * 300], ids=["cjk", "ascii"])
def test_a_300_character_name_downloads_under_a_shortened_name(server, client, tmp_path, stem):
    f = server.add_file(data=b"weights" * 100, name=stem + ".safetensors")
    result = Transfer(client, request_for(f, tmp_path), options()).run()
    assert result.path.suffix == ".safetensors" and result.path.read_bytes() == f.path.read_bytes()
    assert len(result.path.name.encode("utf-8")) < 255
    assert only_installed(tmp_path) == [result.path.name]  # no 0-byte .part left behind
    # Content-Disposition names are shortened alike.
    g = server.add_file(data=b"other" * 100, name=stem + "2.safetensors")
    again = Transfer(client, request_for(g, tmp_path / "cd", filename=None), options()).run()
    assert again.path.suffix == ".safetensors" and len(again.path.name.encode("utf-8")) < 255
