"""The one exception of the download engine: a user-facing message and whether the .part stays."""

from __future__ import annotations


class DownloadError(Exception):
    """``str(err)`` is the message; ``retryable`` says whether Retry can resume; ``kind`` is for the UI/tests."""

    def __init__(self, message: str, *, kind: str, retryable: bool = True, part_kept: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.part_kept = part_kept


class TransientError(Exception):
    """Inside the engine only: this attempt failed in a way the next attempt (fresh signed URL) may fix."""

    def __init__(self, error: DownloadError) -> None:
        super().__init__(error.message)
        self.error = error


class RestartFromZero(Exception):
    """Inside the engine only: the server ignored our Range (200) or refused it (416); start over cleanly."""


class Cancelled(Exception):
    """Inside the engine only: the job was cancelled or paused."""
