"""Civitai REST API client and tolerant response parsing (no gradio, no modules).

Public API: ``CivitaiClient``, ``SearchQuery``, ``SearchPager``, ``resolve_base_url``, the typed
objects in ``types`` and the exceptions in ``errors``. See docs/civitai.md.
"""

from .client import CivitaiClient, ResolvedDownload
from .coerce import NSFW_BLOCKED, NSFW_PG, NSFW_PG13, NSFW_R, NSFW_X, NSFW_XXX
from .config import BASE_URL_ENV, DEFAULT_BASE_URL, resolve_base_url, user_agent
from .errors import (
    ArchivedError,
    AuthRequiredError,
    BadRequestError,
    BadResponseError,
    CivitaiError,
    DownloadsDisabledError,
    EarlyAccessError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from .search import SearchPager, SearchQuery
from .types import Creator, Enums, Model, ModelFile, ModelImage, ModelRef, ModelVersion, Page

__all__ = [
    "ArchivedError", "AuthRequiredError", "BadRequestError", "BadResponseError", "BASE_URL_ENV", "CivitaiClient",
    "CivitaiError", "Creator", "DEFAULT_BASE_URL", "DownloadsDisabledError", "EarlyAccessError", "Enums",
    "ForbiddenError", "Model", "ModelFile", "ModelImage", "ModelRef", "ModelVersion", "NotFoundError",
    "NSFW_BLOCKED", "NSFW_PG", "NSFW_PG13", "NSFW_R", "NSFW_X", "NSFW_XXX", "Page", "RateLimitedError",
    "ResolvedDownload", "SearchPager", "SearchQuery", "UnavailableError", "resolve_base_url", "user_agent",
]
