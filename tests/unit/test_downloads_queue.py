"""The download queue: bounded concurrency, progress snapshots, cancel/pause/retry, resume after restart."""

from __future__ import annotations

import threading
import time

import pytest

from model_workbench.downloads import DownloadOptions, DownloadQueue, DownloadRequest, JobStatus
from model_workbench.downloads.queue import DestinationTaken
from model_workbench.downloads.state import part_path, state_path

MIB = 1 << 20


def opts(**kw) -> DownloadOptions:
    return DownloadOptions(sleep=lambda s: None, read_timeout=5.0, progress_interval=0.02, max_attempts=2, **kw)


def req(f, dest, **kw) -> DownloadRequest:
    return DownloadRequest(url=f.download_url, dest_dir=dest, filename=f.name, sha256=f.sha256,
                           version_id=f.version_id, title="Fake", **kw)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_jobs_complete_with_snapshot_and_events(server, client, tmp_path):
    files = [server.add_file(data=bytes([i]) * (MIB // 2), name=f"m{i}.safetensors") for i in range(3)]
    events = []
    installed = []
    q = DownloadQueue(client, max_concurrent=2, options=opts(), on_event=events.append,
                      on_installed=lambda r, res: installed.append(res.path.name))
    try:
        ids = [q.add(req(f, tmp_path)) for f in files]
        assert q.wait(timeout=20)
        snaps = {s.id: s for s in q.snapshot()}
        for job_id, f in zip(ids, files, strict=True):
            s = snaps[job_id]
            assert s.status == JobStatus.DONE and s.bytes == s.total == f.size and s.fraction == 1.0
            assert s.destination == str(tmp_path / f.name) and "Installed" in s.message and s.eta == 0.0
        assert sorted(installed) == sorted(f.name for f in files)
        assert {e.status for e in events} >= {JobStatus.QUEUED, JobStatus.DONE}
    finally:
        q.shutdown()


def test_concurrency_is_bounded_and_progress_has_speed_and_eta(server, client, tmp_path):
    server.faults.throttle_bps = 4 * MIB
    files = [server.add_file(data=bytes([i]) * MIB, name=f"slow{i}.safetensors") for i in range(3)]
    active_counts = []
    progress = []
    lock = threading.Lock()

    def on_event(snap):
        with lock:
            progress.append(snap)
            active_counts.append(sum(1 for s in q.snapshot() if s.status == JobStatus.DOWNLOADING))

    q = DownloadQueue(client, max_concurrent=1, options=opts(), on_event=on_event)
    try:
        for f in files:
            q.add(req(f, tmp_path))
        assert q.wait(timeout=30)
        assert max(active_counts) == 1
        moving = [p for p in progress if p.status == JobStatus.DOWNLOADING and p.bytes > 0]
        assert moving and any(p.speed > 0 and p.eta is not None and p.total == MIB for p in moving)
        assert all(s.status == JobStatus.DONE for s in q.snapshot())
    finally:
        q.shutdown()


def test_duplicate_add_returns_the_same_job(server, client, tmp_path):
    server.faults.throttle_bps = 2 * MIB
    f = server.add_file(data=b"d" * MIB)
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        assert q.add(req(f, tmp_path)) == q.add(req(f, tmp_path))
        q.wait(timeout=10)
    finally:
        q.shutdown()


def test_the_same_file_under_another_name_is_its_own_job(server, client, tmp_path):
    server.faults.throttle_bps = 2 * MIB
    f = server.add_file(data=b"n" * MIB, name="named.safetensors")
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        first = q.add(req(f, tmp_path))
        second = q.add(DownloadRequest(url=f.download_url, dest_dir=tmp_path, filename="renamed.safetensors",
                                       sha256=f.sha256, version_id=f.version_id, title="Fake"))
        assert first != second
        assert q.wait(timeout=20)
        assert (tmp_path / "named.safetensors").is_file() and (tmp_path / "renamed.safetensors").is_file()
        assert {s.destination for s in q.snapshot()} == {str(tmp_path / "named.safetensors"),
                                                         str(tmp_path / "renamed.safetensors")}
    finally:
        q.shutdown()


def test_another_file_to_a_path_a_job_is_writing_is_refused(server, client, tmp_path):
    server.faults.throttle_bps = 2 * MIB
    a = server.add_file(data=b"a" * MIB, name="a.safetensors")
    b = server.add_file(data=b"b" * MIB, name="b.safetensors")
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        q.add(req(a, tmp_path))
        with pytest.raises(DestinationTaken, match=r"a\.safetensors.*already being downloaded"):
            q.add(DownloadRequest(url=b.download_url, dest_dir=tmp_path, filename="a.safetensors",
                                  sha256=b.sha256, version_id=b.version_id, title="Fake"))
        assert len(q.snapshot()) == 1
        assert q.wait(timeout=20)
        # Once the first has finished, the queue no longer guards the name (the transfer refuses to
        # overwrite a different file with a sentence of its own).
        q.add(DownloadRequest(url=b.download_url, dest_dir=tmp_path, filename="a.safetensors",
                              sha256=b.sha256, version_id=b.version_id, title="Fake"))
    finally:
        q.shutdown()


def test_cancel_removes_partial_and_pause_keeps_it_then_retry_resumes(server, client, tmp_path):
    server.faults.throttle_bps = 2 * MIB
    f = server.add_file(data=b"p" * (2 * MIB), name="pausable.safetensors")
    final = tmp_path / f.name
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        job = q.add(req(f, tmp_path))
        assert wait_for(lambda: q.get(job).bytes > MIB // 4)
        assert q.pause(job)
        assert q.wait(job, timeout=10)
        snap = q.get(job)
        assert snap.status == JobStatus.PAUSED and "kept" in snap.message and snap.retryable
        assert part_path(final).exists() and state_path(final).exists() and not final.exists()
        server.faults.reset()
        assert q.retry(job) and q.wait(job, timeout=10)
        assert q.get(job).status == JobStatus.DONE and final.read_bytes() == f.path.read_bytes()

        server.faults.throttle_bps = 2 * MIB
        g = server.add_file(data=b"c" * (2 * MIB), name="cancelled.safetensors")
        job2 = q.add(req(g, tmp_path))
        assert wait_for(lambda: q.get(job2).bytes > MIB // 4)
        assert q.cancel(job2) and q.wait(job2, timeout=10)
        assert q.get(job2).status == JobStatus.CANCELLED
        assert not part_path(tmp_path / g.name).exists() and not (tmp_path / g.name).exists()
        assert q.remove(job2) and q.get(job2) is None
    finally:
        q.shutdown()


def test_cancel_of_a_queued_job(server, client, tmp_path):
    server.faults.throttle_bps = 1 * MIB
    first = server.add_file(data=b"1" * MIB, name="first.safetensors")
    second = server.add_file(data=b"2" * MIB, name="second.safetensors")  # one name would be refused
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        a = q.add(req(first, tmp_path))
        b = q.add(req(second, tmp_path))
        assert q.cancel(b) and q.get(b).status == JobStatus.CANCELLED
        q.cancel(a)
        assert q.wait(timeout=10)
    finally:
        q.shutdown()


def test_failure_is_reported_in_the_snapshot(server, client, tmp_path):
    f = server.add_file(data=b"z" * MIB)
    server.faults.corrupt_at = 10
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        job = q.add(req(f, tmp_path))
        assert q.wait(job, timeout=10)
        snap = q.get(job)
        assert snap.status == JobStatus.FAILED and snap.error_kind == "hash" and "SHA256" in snap.message
        assert snap.retryable and list(tmp_path.iterdir()) == []
        server.faults.reset()
        assert q.retry(job) and q.wait(job, timeout=10) and q.get(job).status == JobStatus.DONE
    finally:
        q.shutdown()


def test_sidecar_failure_does_not_fail_the_install(server, client, tmp_path):
    f = server.add_file(data=b"s" * 1000)

    def broken(request, result):
        raise OSError("preview server down")

    q = DownloadQueue(client, options=opts(), on_installed=broken)
    try:
        job = q.add(req(f, tmp_path))
        q.wait(job, timeout=10)
        snap = q.get(job)
        assert snap.status == JobStatus.DONE and "preview server down" in snap.message
    finally:
        q.shutdown()


def test_resume_partials_after_restart(server, client, tmp_path):
    server.faults.throttle_bps = 2 * MIB
    f = server.add_file(data=b"r" * (2 * MIB), name="restart.safetensors")
    sub = tmp_path / "Lora" / "sub"
    q = DownloadQueue(client, max_concurrent=1, options=opts())
    job = q.add(req(f, sub))
    assert wait_for(lambda: q.get(job).bytes > MIB // 4)
    q.shutdown()  # the app closes: active jobs are paused, parts kept
    assert part_path(sub / f.name).exists()
    server.faults.reset()
    q2 = DownloadQueue(client, max_concurrent=1, options=opts())
    try:
        ids = q2.resume_partials([tmp_path / "Lora", tmp_path / "missing"])
        assert len(ids) == 1 and q2.wait(timeout=10)
        snap = q2.get(ids[0])
        assert snap.status == JobStatus.DONE and (sub / f.name).read_bytes() == f.path.read_bytes()
    finally:
        q2.shutdown()


def test_downloading_a_failed_file_again_replaces_its_row(server, client, tmp_path):
    f = server.add_file(data=b"again" * 1000, name="again.safetensors", require_auth=True)
    from model_workbench.civitai import CivitaiClient

    with CivitaiClient(server.url, api_key=None, sleep=lambda s: None, max_retries=0) as anonymous:
        q = DownloadQueue(anonymous, options=opts())
        try:
            failed = q.add(req(f, tmp_path))
            assert q.wait(failed, timeout=10) and q.get(failed).status == JobStatus.FAILED
            other = q.add(req(server.add_file(data=b"other", name="other.safetensors"), tmp_path))
            assert q.wait(other, timeout=10)
            again = q.add(req(f, tmp_path))  # the user pressed Download once more
            assert q.wait(again, timeout=10)
            ids = [s.id for s in q.snapshot()]
            assert failed not in ids and again in ids and other in ids and len(ids) == 2
        finally:
            q.shutdown()


def test_clear_finished_keeps_only_what_is_running_or_paused(server, client, tmp_path):
    server.faults.throttle_bps = 256 * 1024
    done = server.add_file(data=b"d" * 1000, name="done.safetensors")
    slow = server.add_file(data=b"s" * (2 * MIB), name="slow_clear.safetensors")
    q = DownloadQueue(client, options=opts())
    try:
        done_id = q.add(req(done, tmp_path))
        assert q.wait(done_id, timeout=10)
        cancelled_id = q.add(req(server.add_file(data=b"c" * MIB, name="cancel_me.safetensors"), tmp_path))
        q.cancel(cancelled_id)
        running_id = q.add(req(slow, tmp_path))
        assert wait_for(lambda: q.get(running_id).status == JobStatus.DOWNLOADING)
        assert q.clear_finished() == 2
        assert [s.id for s in q.snapshot()] == [running_id]
    finally:
        server.faults.reset()
        q.shutdown()
