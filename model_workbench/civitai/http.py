"""The httpx client Civitai requests go through: User-Agent, Bearer auth to one origin only, proxy.

The API key is attached by a request event hook, which httpx runs for every request *including
each redirect hop*; it sets ``Authorization`` when the request goes to the configured origin and
removes it otherwise, so a signed storage URL on another host never sees the key.
"""

from __future__ import annotations

import inspect
from typing import Any

import httpx

from .config import user_agent
from .endpoints import httpx_proxy, normalize_site_url


def origin_of(url: httpx.URL | str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in: two URLs share a host only if all three match."""
    u = httpx.URL(str(url))
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme, (u.host or "").lower(), port)


class _SecretKey:
    """Holds the API key so that no repr, log line or traceback local ever shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = (value or "").strip() or None

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<api key set>" if self._value else "<no api key>"

    __str__ = __repr__


class OriginAuthHook:
    """Request hook: Bearer key for the configured origin, no Authorization anywhere else."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.origin = origin_of(base_url)
        self.key = _SecretKey(api_key)

    def __call__(self, request: httpx.Request) -> None:
        key = self.key.get()
        if key and origin_of(request.url) == self.origin:
            request.headers["Authorization"] = f"Bearer {key}"
        else:
            request.headers.pop("Authorization", None)

    def __repr__(self) -> str:
        return f"OriginAuthHook(origin={self.origin!r}, key={self.key!r})"


def _proxy_kwargs(proxy: str | None) -> dict[str, Any]:
    # httpx ≤0.25 only knows proxies=; 0.26+ adds proxy= and 0.28 removes proxies=.
    proxy = httpx_proxy(proxy)  # "127.0.0.1:7890" → "http://…"; a sentence for what httpx cannot use
    if not proxy:
        return {}
    params = inspect.signature(httpx.Client.__init__).parameters
    return {"proxy": proxy} if "proxy" in params else {"proxies": proxy}


def make_http_client(base_url: str, api_key: str | None = None, *, proxy: str | None = None,
                     timeout: float | httpx.Timeout = 30.0, follow_redirects: bool = True) -> tuple[httpx.Client, OriginAuthHook]:
    normalize_site_url(base_url)  # a sentence now rather than "not%20a%20url" on every request
    hook = OriginAuthHook(base_url, api_key)
    client = httpx.Client(
        headers={"User-Agent": user_agent(), "Accept": "application/json"},
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        follow_redirects=follow_redirects,
        event_hooks={"request": [hook]},
        **_proxy_kwargs(proxy),
    )
    return client, hook
