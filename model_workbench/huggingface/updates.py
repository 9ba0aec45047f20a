"""Does the Hub have a newer revision of an installed file? Compare its LFS SHA256 at "main" with the recorded one."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from model_workbench.library.hub_record import HubRecord

from . import file_messages as m
from .probe import ProbeError, check_status


def newer_hub_revision(http: httpx.Client, endpoint: str, record: HubRecord, revision: str = "main") -> bool | None:
    """True when the file at ``revision`` has another LFS SHA256 than the installed one, False when the same,
    None when the Hub cannot tell (no LFS hash recorded, the file is gone from the branch). A failed request
    raises ``ProbeError`` whose text is a sentence.

    ``POST /api/models/{repo}/paths-info/{revision}`` with ``paths=[path]`` is one small request per file,
    as ``huggingface_hub.HfApi.get_paths_info`` sends it (form fields, not JSON).
    """
    if not record.sha256:
        return None
    name = record.path.rsplit("/", 1)[-1]
    url = f"{endpoint.rstrip('/')}/api/models/{record.repo_id}/paths-info/{quote(revision, safe='')}"
    try:
        response = http.post(url, data={"paths": [record.path], "expand": "false"})
    except httpx.HTTPError:
        raise ProbeError(m.MSG_PROBE_UNREACHABLE.format(name=name)) from None
    try:
        check_status(response, name)
    except ProbeError as exc:
        raise ProbeError(m.MSG_CHECK_FAILED.format(repo=record.repo_id, name=name, reason=exc)) from None
    try:
        entries = response.json()
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        raise ProbeError(m.MSG_CHECK_BAD_ANSWER.format(repo=record.repo_id, name=name))
    entry = next((e for e in entries if isinstance(e, dict) and e.get("path") == record.path), None)
    lfs = entry.get("lfs") if entry else None
    current = (lfs.get("oid") or lfs.get("sha256")) if isinstance(lfs, dict) else None
    if not isinstance(current, str) or not current:
        return None
    return current.lower() != record.sha256.lower()
