"""Synchronous Hugging Face Hub client: search, a repo's details, small files, byte ranges.

Why not ``huggingface_hub.HfApi``: it reads ``HF_ENDPOINT`` once, when it is first imported (inside
WebUI that has already happened, so a mirror set in our settings would be ignored by anything built
on its defaults), and it takes a proxy only through a process-wide session factory
(``configure_http_backend``), which would reroute WebUI's own Hub traffic (transformers, diffusers)
through our proxy as well. So this client speaks the Hub's HTTP API itself, at the endpoint given,
with its own httpx client (``civitai.http.make_http_client``): the token goes only to the
endpoint's origin, never to the storage host a ``resolve`` URL redirects to, and the proxy applies
to these requests only.

Usage::

    hub = HubClient("https://hf-mirror.com", token=None, proxy="")
    page = hub.search("castle", sort="downloads", kind="lora", limit=20)
    more = hub.search(cursor=page.next_cursor)
    details = hub.details("org/castle-lora")
    image = hub.fetch_bytes(resolve_url(hub.endpoint, details.model.repo_id, details.revision, details.preview_path))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from model_workbench.civitai.http import OriginAuthHook, _SecretKey, make_http_client, origin_of
from model_workbench.civitai.unreachable import heals_by_waiting, unreachable_template

from . import errors as e
from . import messages as m
from .byte_range import range_body, range_headers
from .endpoint import effective_endpoint
from .failures import Asked, error_for_response, host_of, is_web_page
from .links import parse_hub_link
from .responses import parse_model, parse_sibling, parse_tree_entry, preview_path, strip_front_matter
from .types import HubFile, HubRepoDetails, HubSearchPage, resolve_url

SORTS = ("downloads", "likes", "lastModified")
# The Hub's own query parameters for each kind filter. The Hub has no tag for "a single-file checkpoint":
# "checkpoint" narrows to text-to-image repos with safetensors files; the files' headers tell the rest.
KIND_FILTERS: dict[str, dict[str, Any]] = {
    "all": {},
    "text-to-image": {"pipeline_tag": "text-to-image"},
    "lora": {"pipeline_tag": "text-to-image", "filter": ["lora"]},
    "checkpoint": {"pipeline_tag": "text-to-image", "filter": ["safetensors"]},
}
KINDS = tuple(KIND_FILTERS)
# Fields a search card shows; without ``expand`` the Hub's list leaves out author, lastModified and gated.
EXPAND = ("author", "downloads", "likes", "lastModified", "gated", "private", "tags", "pipeline_tag",
          "library_name", "sha")
MAX_SMALL_FILE = 16 << 20  # README, preview image: anything bigger is not what fetch_bytes is for
MAX_TREE_PAGES = 100


def _quote_repo(repo_id: str) -> str:
    return quote(repo_id.strip("/"), safe="/")


class HubClient:
    """One endpoint, one token, one proxy. Every call raises a :class:`~.errors.HubError` whose text is a sentence."""

    def __init__(self, endpoint: str = "", token: str | None = None, proxy: str | None = None,
                 http: httpx.Client | None = None, *, timeout: float = 30.0) -> None:
        self.endpoint = effective_endpoint(endpoint)
        self.host = host_of(self.endpoint)
        if http is None:
            self.http, self._auth = make_http_client(self.endpoint, token, proxy=proxy, timeout=timeout)
            self._owns_http = True
        else:  # a caller's client (tests, a shared pool): add the same one-origin token hook to it
            self._auth = OriginAuthHook(self.endpoint, token)
            hooks = dict(http.event_hooks)
            hooks["request"] = [*hooks.get("request", []), self._auth]
            http.event_hooks = hooks
            self.http, self._owns_http = http, False

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HubClient(endpoint={self.endpoint!r}, token={self._auth.key!r})"

    def set_token(self, token: str | None) -> None:
        """Use a new token from the next request on (the settings changed)."""
        self._auth.key = _SecretKey(token)

    @property
    def has_token(self) -> bool:
        return self._auth.key.get() is not None

    def is_endpoint_url(self, url: str) -> bool:
        return origin_of(url) == self._auth.origin

    def url(self, path: str) -> str:
        return self.endpoint + "/" + path.lstrip("/")

    def file_url(self, file: HubFile) -> str:
        """The ``resolve`` URL of a file at the commit it was listed at (what the download engine fetches)."""
        return resolve_url(self.endpoint, file.repo_id, file.revision, file.path)

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, method: str, url: str, asked: Asked, *, params: Any = None,
              headers: dict[str, str] | None = None, limit: int | None = None,
              read: Callable[[httpx.Response], bytes] | None = None) -> tuple[httpx.Response, bytes]:
        """One request and its body; a non-2xx answer or a failed connection raises the sentence for it.

        A body over ``limit`` bytes raises; ``read`` takes a successful answer's body itself (a byte range:
        only the bytes wanted are fetched)."""
        try:
            with self.http.stream(method, url, params=params, headers=headers) as response:
                if read is not None and response.is_success:
                    return response, read(response)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if limit is not None and len(body) > limit and response.is_success:
                        raise e.HubBadResponseError(m.TOO_LARGE, path=asked.path or url, limit=max(1, limit >> 20))
        except httpx.TimeoutException:
            raise e.HubUnavailableError(m.TIMEOUT, host=asked.host) from None
        except httpx.TooManyRedirects:
            raise e.HubBadResponseError(m.TOO_MANY_REDIRECTS, host=asked.host) from None
        except httpx.TransportError as exc:
            if not heals_by_waiting(exc):
                raise e.HubUnavailableError(unreachable_template(exc, m), host=asked.host) from None
            raise e.HubUnavailableError(m.CONNECTION_BROKEN, host=asked.host) from None
        if not response.is_success:
            raise error_for_response(response, bytes(body), asked)
        return response, bytes(body)

    def _get_json(self, url: str, asked: Asked, params: Any = None) -> tuple[Any, httpx.Response]:
        response, body = self._send("GET", url, asked, params=params)
        if is_web_page(response, body):
            raise e.HubBadResponseError(m.WEB_PAGE, host=asked.host)
        try:
            return json.loads(body), response
        except ValueError:
            raise e.HubBadResponseError(m.NOT_JSON, host=asked.host) from None

    def _asked(self, repo: str = "", revision: str = "main", path: str | None = None) -> Asked:
        return Asked(host=self.host, repo=repo, revision=revision, path=path, token_sent=self.has_token)

    def _next_page(self, response: httpx.Response) -> str | None:
        """The ``Link: <…>; rel="next"`` URL, moved onto our endpoint when a mirror passes the Hub's own through."""
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        link = urljoin(str(response.url), link)
        if self.is_endpoint_url(link):
            return link
        parts = urlsplit(link)
        return self.url(parts.path + (f"?{parts.query}" if parts.query else ""))

    # -- search ----------------------------------------------------------------------------
    def search(self, query: str = "", sort: str = "downloads", kind: str = "all", limit: int = 30,
               cursor: str | None = None, author: str | None = None) -> HubSearchPage:
        """One page of ``GET /api/models`` (most first); ``cursor`` is a previous page's ``next_cursor``."""
        asked = self._asked()
        if cursor:
            if not self.is_endpoint_url(cursor):
                raise e.HubBadResponseError(m.CURSOR_ELSEWHERE, host=host_of(cursor))
            body, response = self._get_json(cursor, asked)
        else:
            params: list[tuple[str, str | int]] = []
            if query.strip():
                params.append(("search", query.strip()))
            if author:
                params.append(("author", author))
            for name, value in KIND_FILTERS.get(kind, {}).items():
                params += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
            params += [("sort", sort if sort in SORTS else "downloads"), ("direction", -1),
                       ("limit", max(1, min(int(limit), 100)))]
            params += [("expand", field) for field in EXPAND]
            body, response = self._get_json(self.url("api/models"), asked, params=params)
        if not isinstance(body, list):
            raise e.HubBadResponseError(m.NOT_JSON, host=self.host)
        models = tuple(parse_model(item) for item in body if isinstance(item, dict))
        return HubSearchPage(models=models, next_cursor=self._next_page(response))

    # -- a repo ----------------------------------------------------------------------------
    def model_info(self, repo_id: str, revision: str = "main") -> dict[str, Any]:
        """``GET /api/models/{repo}`` (``/revision/{rev}`` for another revision) as the Hub sends it."""
        path = f"api/models/{_quote_repo(repo_id)}"
        if revision and revision != "main":
            path += f"/revision/{quote(revision, safe='')}"
        body, _ = self._get_json(self.url(path), self._asked(repo_id, revision))
        if not isinstance(body, dict):
            raise e.HubBadResponseError(m.NOT_JSON, host=self.host)
        return body

    def list_files(self, repo_id: str, revision: str) -> tuple[HubFile, ...]:
        """Every file of the repo at ``revision`` (``/tree/{rev}?recursive=true``, all Link pages)."""
        asked = self._asked(repo_id, revision)
        url: str | None = self.url(f"api/models/{_quote_repo(repo_id)}/tree/{quote(revision, safe='')}")
        params: dict[str, str] | None = {"recursive": "true"}
        files: list[HubFile] = []
        for _ in range(MAX_TREE_PAGES):
            if url is None:
                break
            body, response = self._get_json(url, asked, params=params)
            if not isinstance(body, list):
                raise e.HubBadResponseError(m.NOT_JSON, host=self.host)
            files += [f for f in (parse_tree_entry(x, repo_id, revision) for x in body if isinstance(x, dict)) if f]
            url, params = self._next_page(response), None
        return tuple(files)

    def details(self, repo_id: str, revision: str = "main") -> HubRepoDetails:
        """The repo's card, card data, files (with LFS SHA256 and sizes) and preview image, at one commit."""
        info = self.model_info(repo_id, revision)
        model = parse_model(info)
        if not model.repo_id:
            model = parse_model({**info, "id": repo_id})
        commit = model.sha or revision
        try:
            files = self.list_files(model.repo_id, commit)
        except e.HubNotFoundError:  # a mirror without the tree route: the listing's names, sizes unknown
            siblings = info.get("siblings") if isinstance(info.get("siblings"), list) else []
            files = tuple(f for f in (parse_sibling(s, model.repo_id, commit) for s in siblings if isinstance(s, dict)) if f)
        card_data = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
        return HubRepoDetails(model=model, revision=commit, card_markdown=self._card(model.repo_id, commit, files),
                              card_data=dict(card_data), files=files,
                              preview_path=preview_path([f.path for f in files]))

    def _card(self, repo_id: str, commit: str, files: tuple[HubFile, ...]) -> str:
        if not any(f.path == "README.md" for f in files):
            return ""
        try:
            raw = self.fetch_bytes(resolve_url(self.endpoint, repo_id, commit, "README.md"))
        except (e.HubAccessError, e.HubNotFoundError):  # a gated repo may keep even its card to itself
            return ""
        return strip_front_matter(raw.decode("utf-8", errors="replace"))

    # -- files -----------------------------------------------------------------------------
    def _asked_for(self, url: str) -> Asked:
        link = parse_hub_link(url, [self.endpoint])
        return self._asked(link.repo_id, link.revision, link.path) if link else self._asked(path=url)

    def fetch_bytes(self, url: str, *, limit: int = MAX_SMALL_FILE) -> bytes:
        """A small file (README, preview image) by its ``resolve`` URL, following the storage redirect."""
        asked = self._asked_for(url)
        response, body = self._send("GET", url, asked, limit=limit)
        if is_web_page(response, body) and not (asked.path or "").lower().endswith((".html", ".htm")):
            raise e.HubBadResponseError(m.WEB_PAGE, host=asked.host)
        return body

    def fetch_range(self, url: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` of a file (a safetensors header), by a Range request.

        Returns fewer bytes at the end of the file; a server that ignores Range gets cut off at ``length``.
        """
        headers = range_headers(start, start + length - 1)
        _, body = self._send("GET", url, self._asked_for(url), headers=headers,
                             read=lambda response: range_body(response, start, length))
        return body
