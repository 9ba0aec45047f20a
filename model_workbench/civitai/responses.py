"""Turn a non-success Civitai response into the right typed exception with an actionable message."""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from typing import Any

from . import errors as e
from . import messages as m
from .coerce import parse_datetime

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


def looks_like_html(content_type: str, body: bytes) -> bool:
    if "html" in content_type.lower():
        return True
    head = body[:256].lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone

        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError, IndexError):
        return None


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _detail_text(payload: Any, body: bytes) -> str:
    """A short human detail from ``{"error": ...}``, ``{"message": ...}``, a ZodError or plain text."""
    if isinstance(payload, dict):
        message = payload.get("message")
        error = payload.get("error")
        if isinstance(error, dict):  # ZodError object
            error = error.get("message") or error.get("name")
            if isinstance(error, str) and error.startswith("["):
                issues = _json_or_none(error.encode())
                if isinstance(issues, list) and issues and isinstance(issues[0], dict):
                    error = "; ".join(str(i.get("message", "")) for i in issues if isinstance(i, dict))
        parts = [p for p in (error, message) if isinstance(p, str) and p]
        if parts:
            return ": ".join(dict.fromkeys(parts))[:300]
    text = body[:300].decode("utf-8", "replace").strip()
    return re.sub(r"\s+", " ", text)


def error_for_response(status: int, content_type: str, body: bytes, *, has_api_key: bool,
                       retry_after: float | None = None) -> e.CivitaiError:
    html = looks_like_html(content_type, body)
    if html and (status >= 500 or status < 400):
        return e.UnavailableError(m.UNAVAILABLE_HTML, status=status, detail="html page")
    payload = None if html else _json_or_none(body)
    detail = f"HTTP {status}, a web page" if html else (_detail_text(payload, body) or f"HTTP {status}")
    low = detail.lower()
    if status == 401:
        if "disabled download" in low:
            return e.DownloadsDisabledError(m.DOWNLOADS_DISABLED, status=status, detail=detail)
        return e.AuthRequiredError(m.BAD_API_KEY if has_api_key else m.NEEDS_API_KEY, status=status, detail=detail)
    if status == 403:
        if "early access" in low:
            deadline = parse_datetime(payload.get("deadline")) if isinstance(payload, dict) else None
            if deadline:
                when = deadline.strftime("%Y-%m-%d %H:%M UTC")
                return e.EarlyAccessError(m.EARLY_ACCESS.format(deadline=when), deadline=deadline, detail=detail)
            return e.EarlyAccessError(m.EARLY_ACCESS_NO_DEADLINE, detail=detail)
        return e.ForbiddenError(m.FORBIDDEN.format(detail=detail), status=status, detail=detail)
    if status == 404:
        return e.NotFoundError(m.NOT_FOUND.format(detail=detail), status=status, detail=detail)
    if status == 410:
        return e.ArchivedError(m.ARCHIVED, status=status, detail=detail)
    if status == 429:
        if retry_after:
            text = m.RATE_LIMITED_RETRY.format(detail=detail, seconds=int(round(retry_after)))
        else:
            text = m.RATE_LIMITED.format(detail=detail)
        return e.RateLimitedError(text, retry_after=retry_after, detail=detail)
    if status == 400:
        return e.BadRequestError(m.BAD_REQUEST.format(detail=detail), status=status, detail=detail)
    if status >= 500:
        return e.UnavailableError(m.UNAVAILABLE.format(status=status), status=status, detail=detail)
    return e.CivitaiError(m.UNEXPECTED_STATUS.format(status=status, detail=detail), status=status, detail=detail)


def parse_json_body(status: int, content_type: str, body: bytes) -> Any:
    """The JSON of a 2xx response; an outage page or garbage becomes a typed error, never a crash."""
    if looks_like_html(content_type, body):
        raise e.UnavailableError(m.UNAVAILABLE_HTML, status=status, detail="html page")
    payload = _json_or_none(body)
    if payload is None and body.strip() != b"null":
        raise e.BadResponseError(m.NOT_JSON, status=status, detail=body[:100].decode("utf-8", "replace"))
    return payload
