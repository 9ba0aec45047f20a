"""Which sentence a failed Hub answer becomes (the status, plus the Hub's ``X-Error-Code`` header).

The Hub answers a private repo, a gated repo and a missing one alike to a request without a token
(401 ``RepoNotFound``); gated files answer ``GatedRepo`` (401 without a token, 403 with one whose
account has not accepted the license); 404 carries ``RepoNotFound``, ``RevisionNotFound`` or
``EntryNotFound``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from model_workbench.civitai.responses import retry_after_seconds

from . import errors as e
from . import messages as m


@dataclass(frozen=True)
class Asked:
    """What a request was for, to name it in the sentence."""

    host: str
    repo: str = ""
    revision: str = "main"
    path: str | None = None
    token_sent: bool = False


def host_of(url: str | httpx.URL) -> str:
    """``hf-mirror.com`` or ``127.0.0.1:8080``: the host as the user would recognise it."""
    u = httpx.URL(str(url))
    return f"{u.host}:{u.port}" if u.port else u.host


def _detail(response: httpx.Response, body: bytes) -> str:
    text = response.headers.get("X-Error-Message", "")
    if not text:
        try:
            data = json.loads(body or b"null")
            text = str(data.get("error") or "") if isinstance(data, dict) else ""
        except ValueError:
            text = ""
    return (text or response.reason_phrase or "").strip()[:200]


def is_web_page(response: httpx.Response, body: bytes) -> bool:
    """An HTML page where JSON or a file was expected (a mirror's front page, a captive portal, a login wall)."""
    kind = response.headers.get("Content-Type", "").lower()
    head = body[:200].lstrip().lower()
    return "text/html" in kind or head.startswith((b"<!doctype html", b"<html"))


def _access_error(response: httpx.Response, body: bytes, asked: Asked) -> e.HubError:
    code = response.headers.get("X-Error-Code", "")
    values = {"repo": asked.repo, "host": asked.host}
    if code == "GatedRepo":
        template = m.GATED_WITH_TOKEN if asked.token_sent else m.GATED_NO_TOKEN
    elif response.status_code == 401 or code == "RepoNotFound":
        template = m.PRIVATE_WITH_TOKEN if asked.token_sent else m.PRIVATE_NO_TOKEN
    else:
        return e.HubAccessError(m.FORBIDDEN, token_sent=asked.token_sent, status=response.status_code,
                                detail=_detail(response, body), **values)
    return e.HubAccessError(template, token_sent=asked.token_sent, status=response.status_code, **values)


def _not_found(response: httpx.Response, asked: Asked) -> e.HubError:
    code = response.headers.get("X-Error-Code", "")
    where = {"repo": asked.repo, "host": asked.host, "revision": asked.revision}
    if code == "RevisionNotFound":
        return e.HubNotFoundError(m.REVISION_NOT_FOUND, status=404, **where)
    if asked.path and code != "RepoNotFound":
        return e.HubNotFoundError(m.FILE_NOT_FOUND, status=404, path=asked.path, **where)
    return e.HubNotFoundError(m.REPO_NOT_FOUND, status=404, **where)


def error_for_response(response: httpx.Response, body: bytes, asked: Asked) -> e.HubError:
    """The exception for a non-2xx answer with its ``body``."""
    status = response.status_code
    if status in (401, 403):
        return _access_error(response, body, asked)
    if status == 404:
        return _not_found(response, asked)
    if status == 429:
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        if seconds is None:
            return e.HubRateLimitedError(m.RATE_LIMITED, host=asked.host)
        return e.HubRateLimitedError(m.RATE_LIMITED_RETRY, retry_after=seconds, host=asked.host,
                                     seconds=max(1, round(seconds)))
    if status >= 500:
        return e.HubUnavailableError(m.UNAVAILABLE, status=status, host=asked.host)
    return e.HubError(m.UNEXPECTED_STATUS, status=status, host=asked.host, detail=_detail(response, body))
