"""Typed exceptions for everything Civitai can answer instead of what was asked for.

Every exception carries a message a user can act on (see ``messages``). None of them ever holds
the API key: requests are not stored on the exceptions, only the status and the server's text.
"""

from __future__ import annotations

from datetime import datetime


class CivitaiError(Exception):
    """Base class: ``str(err)`` is the user-facing message."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class AuthRequiredError(CivitaiError):
    """401 without a (valid) key, or the old redirect to ``/login?reason=download-auth``."""


class DownloadsDisabledError(CivitaiError):
    """401 because the creator disabled downloads (``usageControl != Download``)."""


class EarlyAccessError(CivitaiError):
    """403 Early Access; ``deadline`` is when it ends (None if Civitai did not say)."""

    def __init__(self, message: str, *, deadline: datetime | None = None, status: int | None = 403, detail: str = "") -> None:
        super().__init__(message, status=status, detail=detail)
        self.deadline = deadline


class ForbiddenError(CivitaiError):
    """403 for any other reason (blocklisted, no grant)."""


class NotFoundError(CivitaiError):
    """404."""


class ArchivedError(CivitaiError):
    """410: the model is archived and cannot be downloaded."""


class BadRequestError(CivitaiError):
    """400: Civitai rejected the parameters (never retried)."""


class RateLimitedError(CivitaiError):
    """429 after the retries ran out; ``retry_after`` seconds if the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = 429, detail: str = "") -> None:
        super().__init__(message, status=status, detail=detail)
        self.retry_after = retry_after


class UnavailableError(CivitaiError):
    """5xx, an HTML outage page, a timeout or no connection: "Civitai is unavailable"."""


class BadResponseError(CivitaiError):
    """The body was not the JSON we expected (``json`` parse error, wrong shape)."""
