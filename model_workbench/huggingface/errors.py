"""What the Hub can answer instead of what was asked for, as exceptions whose text is a sentence.

``str(err)`` is what the user reads (see ``messages``). No exception holds a request, so none can
carry the token; ``token_sent`` says whether one went with the request that failed.
"""

from __future__ import annotations


class HubError(Exception):
    """Base class: ``str(err)`` is the user-facing sentence, ``template``/``values`` let the UI translate it."""

    def __init__(self, template: str, *, status: int | None = None, **values: object) -> None:
        values = {"status": status, **values}  # a template may name the status too
        super().__init__(template.format(**values))
        self.message = str(self)
        self.template = template
        self.values = values
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class HubAccessError(HubError):
    """401/403: a gated or private repo (or one that does not exist, which the Hub answers alike)."""

    def __init__(self, template: str, *, token_sent: bool, status: int | None = None, **values: object) -> None:
        super().__init__(template, status=status, **values)
        self.token_sent = token_sent


class HubNotFoundError(HubError):
    """404: the repo, the revision or the file does not exist."""


class HubRateLimitedError(HubError):
    """429; ``retry_after`` seconds when the Hub said."""

    def __init__(self, template: str, *, retry_after: float | None = None, status: int | None = 429,
                 **values: object) -> None:
        super().__init__(template, status=status, **values)
        self.retry_after = retry_after


class HubUnavailableError(HubError):
    """5xx, a timeout, a broken or impossible connection."""


class HubBadResponseError(HubError):
    """The body is not the data asked for: a web page (wrong mirror address?), invalid JSON, a foreign cursor."""
