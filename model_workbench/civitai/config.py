"""Where Civitai is and how we introduce ourselves to it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from model_workbench import __version__

DEFAULT_BASE_URL = "https://civitai.com"
BASE_URL_ENV = "MODEL_WORKBENCH_CIVITAI_URL"


def user_agent() -> str:
    # A non-browser UA: with a browser-like one Civitai answers errors with HTML and login redirects.
    return f"sd-webui-model-workbench/{__version__}"


def normalize_base_url(url: str) -> str:
    """``civitai.red/`` → ``https://civitai.red``: a scheme, no trailing slash, no ``/api/v1`` suffix."""
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    url = url.rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def resolve_base_url(setting: str | None = None, flag: str | None = None,
                     environ: Mapping[str, str] | None = None) -> str:
    """The Civitai base URL: the UI setting wins, then the command-line flag, then the env var, then civitai.com."""
    env = os.environ if environ is None else environ
    for candidate in (setting, flag, env.get(BASE_URL_ENV)):
        if candidate and candidate.strip():
            return normalize_base_url(candidate)
    return DEFAULT_BASE_URL
