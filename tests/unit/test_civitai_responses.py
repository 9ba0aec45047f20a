"""Classification of Civitai's error answers into typed, actionable exceptions (no network)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from model_workbench.civitai import errors as e
from model_workbench.civitai.responses import error_for_response, looks_like_html, retry_after_seconds


def classify(status, body, ctype="application/json", key=False, retry_after=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_for_response(status, ctype, raw, has_api_key=key, retry_after=retry_after)


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds(" 2.5 ") == 2.5
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


@pytest.mark.parametrize("status, body, kind, words", [
    (401, {"error": "Unauthorized", "message": "The creator of this asset requires you to be logged in to download it"},
     e.AuthRequiredError, "civitai.com/user/account"),
    (401, {"error": "Unauthorized", "message": "The creator of this asset has disabled downloads on this file"},
     e.DownloadsDisabledError, "disabled downloads"),
    (403, {"error": "Early Access", "deadline": "2031-02-03T04:05:06.000Z", "message": "..."},
     e.EarlyAccessError, "2031-02-03 04:05 UTC"),
    (403, {"error": "You do not have access to download this file"}, e.ForbiddenError, "do not have access"),
    (404, {"error": "No model with id 5"}, e.NotFoundError, "No model with id 5"),
    (410, {"error": "Model archived, not available for download"}, e.ArchivedError, "archived"),
    (429, {"error": "Too Many Requests"}, e.RateLimitedError, "Wait a minute"),
    (400, {"error": {"name": "ZodError", "message": json.dumps([{"message": "Expected number"}])}},
     e.BadRequestError, "Expected number"),
    (400, {"code": "BAD_REQUEST", "message": "tRPC says no"}, e.BadRequestError, "tRPC says no"),
    (500, {"error": "Failed to fetch model version details"}, e.UnavailableError, "Civitai is unavailable"),
    (502, b"Bad gateway", e.UnavailableError, "HTTP 502"),
    (418, {"error": "teapot"}, e.CivitaiError, "HTTP 418"),
])
def test_statuses(status, body, kind, words):
    err = classify(status, body)
    assert type(err) is kind and words in str(err) and err.status == status


def test_401_with_a_key_says_the_key_is_wrong():
    err = classify(401, {"error": "Unauthorized"}, key=True)
    assert isinstance(err, e.AuthRequiredError) and "rejected the API key" in str(err)


def test_429_with_retry_after_says_when():
    err = classify(429, {"error": "slow down"}, retry_after=12)
    assert err.retry_after == 12 and "12 seconds" in str(err)


def test_html_pages():
    page = b"<!DOCTYPE html><html><title>503</title></html>"
    assert isinstance(classify(503, page, "text/html"), e.UnavailableError)
    assert isinstance(classify(200, page, "text/html"), e.UnavailableError)
    forbidden = classify(403, page, "text/html")
    assert isinstance(forbidden, e.ForbiddenError) and "<html" not in str(forbidden)
    assert looks_like_html("", b"  <html>") and not looks_like_html("application/json", b"{}")


def test_early_access_without_deadline():
    err = classify(403, {"error": "Early Access"})
    assert isinstance(err, e.EarlyAccessError) and err.deadline is None and "Early Access" in str(err)
