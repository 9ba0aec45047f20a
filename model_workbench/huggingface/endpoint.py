"""The Hub endpoint a user types: empty for https://huggingface.co, or any http(s) mirror.

Checked like the Civitai site address (``civitai.endpoints``), with the Hub's own sentence, when the
settings are saved and again when a client is made from the value.
"""

from __future__ import annotations

from model_workbench.civitai.config import normalize_base_url
from model_workbench.civitai.endpoints import AddressRefused, _shown, _split
from model_workbench.civitai.http import origin_of

from . import messages as m
from .types import DEFAULT_ENDPOINT

HF_MIRROR = "https://hf-mirror.com"
# Hosts whose URLs are Hub URLs whatever the endpoint setting says (a link pasted from either site).
KNOWN_HUB_HOSTS = ("huggingface.co", "hf.co", "hf-mirror.com")


def normalize_endpoint(text: str | None) -> str:
    """``hf-mirror.com/`` → ``https://hf-mirror.com``; "" stays "" (the Hub itself); anything else raises
    :class:`~model_workbench.civitai.endpoints.AddressRefused` with :data:`messages.ENDPOINT_REFUSED`."""
    value = (text or "").strip()
    if not value:
        return ""
    parts = _split(value, "https", ("http", "https"))
    if parts is None:
        raise AddressRefused(m.ENDPOINT_REFUSED, value=_shown(value))
    return normalize_base_url(parts._replace(scheme=parts.scheme.lower()).geturl())


def effective_endpoint(text: str | None) -> str:
    """The base URL every Hub call goes to: the normalised setting, or https://huggingface.co when empty."""
    return normalize_endpoint(text) or DEFAULT_ENDPOINT


def same_origin(url: str, endpoint: str) -> bool:
    """True when ``url`` is on the endpoint's scheme, host and port (the only place the token may go)."""
    return origin_of(url) == origin_of(effective_endpoint(endpoint))
