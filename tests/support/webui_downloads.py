"""What the webui tier's download tests share: pointing the extension at a fake source through WebUI's own
options API (with its secret where the Settings page puts it), and waiting for a queued download."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ACTIVE = ("queued", "resolving", "downloading", "verifying")  # a job's states before it ends


@contextmanager
def source_settings(url: str, secrets_dir: Path, options: dict[str, str], secrets: dict[str, str],
                    restore: tuple[str, ...]) -> Iterator[None]:
    """Post ``options`` to WebUI's ``/sdapi/v1/options`` (a secret among them is refused: restrict_api) and
    write ``secrets`` to the secret store as the Settings page's Apply leaves them; afterwards remove the
    secrets and put the options named in ``restore`` back."""
    before = httpx.get(url + "/sdapi/v1/options", timeout=30).json()
    answer = httpx.post(url + "/sdapi/v1/options", timeout=30, json=options)
    assert answer.status_code == 200, answer.text
    store = secrets_dir / "secrets.json"
    store.write_text(json.dumps(secrets))
    try:
        yield
    finally:
        store.unlink(missing_ok=True)
        httpx.post(url + "/sdapi/v1/options", timeout=30, json={k: before.get(k, "") for k in restore})


def wait_for_job(url: str, job_id: str, timeout_s: float = 120) -> dict:
    """The download queue's entry for ``job_id`` once it has ended (the last one seen when time runs out)."""
    deadline = time.monotonic() + timeout_s
    job: dict = {}
    while time.monotonic() < deadline:
        jobs = httpx.get(url + "/model-workbench/v1/civitai/queue", timeout=30).json()["jobs"]
        job = next(j for j in jobs if j["id"] == job_id)
        if job["status"] not in ACTIVE:
            break
        time.sleep(0.5)
    return job
