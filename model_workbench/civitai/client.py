"""Synchronous Civitai API client (the UI runs it in worker threads).

Usage::

    client = CivitaiClient(resolve_base_url(setting, flag), api_key=key)
    page = client.search(SearchQuery(query="castle", types=["LORA"]))
    version = client.get_version_by_hash("3202778C3E")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from model_workbench.jsonfile import write_json_atomic

from . import errors as e
from . import messages as m
from .config import DEFAULT_BASE_URL, normalize_base_url
from .enums import fallback_enums
from .http import _SecretKey, make_http_client, origin_of
from .responses import RETRYABLE_STATUSES, error_for_response, parse_json_body, retry_after_seconds
from .search import SearchQuery
from .types import Enums, Model, ModelVersion, Page, parse_image_page, parse_model_page
from .unreachable import heals_by_waiting, unreachable_message

BY_HASH_BATCH = 100  # POST /model-versions/by-hash accepts at most 100 SHA256 per call


@dataclass
class ResolvedDownload:
    """Where the bytes of a download really are (a short-lived signed URL, usually on another host)."""

    url: str
    redirected: bool


class CivitaiClient:
    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None, *,
                 proxy: str | None = None, timeout: float = 30.0, max_retries: int = 4,
                 backoff_base: float = 1.0, backoff_cap: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, enums_ttl: float = 24 * 3600,
                 enums_cache_file: str | Path | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = normalize_base_url(base_url)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self._clock = clock
        self._enums_ttl = enums_ttl
        self._enums: tuple[float, Enums] | None = None
        self._enums_file = Path(enums_cache_file) if enums_cache_file else None
        self._lock = threading.Lock()
        self._bulk_by_hash = True  # False once the server answered the bulk POST with 404/405
        self.http, self._auth = make_http_client(self.base_url, api_key, proxy=proxy, timeout=timeout)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CivitaiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CivitaiClient(base_url={self.base_url!r}, key={self._auth.key!r})"

    def set_api_key(self, api_key: str | None) -> None:
        """Use a new key from the next request on (the settings page changed it)."""
        self._auth.key = _SecretKey(api_key)

    @property
    def has_api_key(self) -> bool:
        return self._auth.key.get() is not None

    def is_civitai_url(self, url: str) -> bool:
        return origin_of(url) == self._auth.origin

    # -- plumbing --------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if "://" in path else self.base_url + "/" + path.lstrip("/")

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2 ** attempt))
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self.backoff_cap * 4)
        return delay

    def send(self, method: str, url: str, *, params: Any = None, json_body: Any = None,
             follow_redirects: bool = True, ok: Callable[[httpx.Response], bool] | None = None,
             stream: bool = False) -> httpx.Response:
        """One request with retries on 429/5xx/transport errors only; anything else not ``ok`` raises typed.

        With ``stream=True`` an accepted response is returned unread (the caller closes it); error
        bodies are always read, they are small.
        """
        full = self.url(url)
        host = httpx.URL(full).host
        accept = ok or (lambda r: 200 <= r.status_code < 300)
        attempt = 0
        while True:
            try:
                request = self.http.build_request(method, full, params=params, json=json_body)
                response = self.http.send(request, stream=True, follow_redirects=follow_redirects)
                if not (stream and accept(response)):
                    response.read()
                    response.close()
            except httpx.TimeoutException as exc:
                error: e.CivitaiError = e.UnavailableError(m.TIMEOUT.format(host=host), detail=type(exc).__name__)
                retry_after = None
            except httpx.TransportError as exc:
                if not heals_by_waiting(exc):  # refused, no such name, no network: say so now, not in 16 s
                    raise e.UnavailableError(unreachable_message(exc, host), detail=str(exc)[:200]) from None
                error = e.UnavailableError(m.CONNECTION_BROKEN.format(host=host), detail=str(exc)[:200])
                retry_after = None
            except httpx.TooManyRedirects as exc:
                raise e.BadResponseError(m.TOO_MANY_REDIRECTS.format(host=host), detail=str(exc)[:200]) from None
            else:
                if accept(response):
                    return response
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                error = error_for_response(response.status_code, response.headers.get("Content-Type", ""),
                                           response.content, has_api_key=self.has_api_key, retry_after=retry_after)
                if response.status_code not in RETRYABLE_STATUSES and not isinstance(error, e.UnavailableError):
                    raise error
            if attempt >= self.max_retries:
                raise error
            self.sleep(self.backoff(attempt, retry_after))
            attempt += 1

    def get_json(self, url: str, params: Any = None) -> Any:
        response = self.send("GET", url, params=params)
        return parse_json_body(response.status_code, response.headers.get("Content-Type", ""), response.content)

    # -- endpoints -------------------------------------------------------------------------
    def search(self, query: SearchQuery) -> Page:
        page = parse_model_page(self.get_json("/api/v1/models", params=query.params()))
        return query.filter_page(page)

    def get_page(self, next_page_url: str, query: SearchQuery | None = None) -> Page:
        """Follow ``metadata.nextPage`` exactly as Civitai returned it (it carries the request host)."""
        page = parse_model_page(self.get_json(next_page_url))
        return query.filter_page(page) if query else page

    def get_model(self, model_id: int) -> Model:
        model = Model.from_json(self.get_json(f"/api/v1/models/{int(model_id)}"))
        if not model.versions and not (model.is_archived or model.is_taken_down):
            self._fill_versions_after_glitch(model)
        return model

    def _fill_versions_after_glitch(self, model: Model) -> None:
        # Civitai has briefly served an empty modelVersions after publishes (#1100, #1640): ask the
        # version endpoint for the versions we can still name, else leave the list empty.
        ids = [int(v["id"]) for v in model.raw.get("modelVersions", []) if isinstance(v, dict) and isinstance(v.get("id"), int)]
        candidates = ids or self._version_ids_from_search(model.id)
        for version_id in candidates:
            try:
                model.versions.append(self.get_version(version_id))
            except e.NotFoundError:
                continue

    def _version_ids_from_search(self, model_id: int) -> list[int]:
        try:
            page = parse_model_page(self.get_json("/api/v1/models", params=[("ids", str(model_id)), ("nsfw", "true")]))
        except e.CivitaiError:
            return []
        return [v.id for item in page.items if item.id == model_id for v in item.versions]

    def get_version(self, version_id: int) -> ModelVersion:
        return ModelVersion.from_json(self.get_json(f"/api/v1/model-versions/{int(version_id)}"))

    def get_version_by_hash(self, file_hash: str) -> ModelVersion | None:
        """Any of the six hash kinds (AutoV1/V2/V3, SHA256, CRC32, BLAKE3); None when Civitai has no match."""
        try:
            return ModelVersion.from_json(self.get_json(f"/api/v1/model-versions/by-hash/{file_hash.strip().upper()}"))
        except e.NotFoundError:
            return None

    def get_versions_by_hashes(self, sha256s: Iterable[str]) -> list[ModelVersion]:
        """Bulk lookup by SHA256 (only full 64-hex SHA256 is accepted), 100 per request; unmatched are dropped.

        Where the server has no bulk POST (404/405: an old mirror or a proxy), one GET per hash instead;
        that answer is remembered for this client.
        """
        unique = list(dict.fromkeys(h.strip().upper() for h in sha256s if len(h.strip()) == 64))
        found: list[ModelVersion] = []
        for start in range(0, len(unique), BY_HASH_BATCH):
            chunk = unique[start:start + BY_HASH_BATCH]
            if self._bulk_by_hash:
                try:
                    response = self.send("POST", "/api/v1/model-versions/by-hash", json_body=chunk)
                except e.CivitaiError as error:
                    if error.status not in (404, 405):
                        raise
                    self._bulk_by_hash = False
                else:
                    data = parse_json_body(response.status_code, response.headers.get("Content-Type", ""),
                                           response.content)
                    found.extend(ModelVersion.from_json(v) for v in (data if isinstance(data, list) else [])
                                 if isinstance(v, dict))
                    continue
            found.extend(v for v in map(self.get_version_by_hash, chunk) if v is not None)
        return found

    def get_enums(self, refresh: bool = False) -> Enums:
        """``/api/v1/enums``, cached for a day (in memory and, if given, in ``enums_cache_file``).

        When Civitai cannot be reached: the last saved copy (any age), else the built-in list.
        """
        with self._lock:
            if self._enums and not refresh and self._clock() - self._enums[0] < self._enums_ttl:
                return self._enums[1]
        saved = self._read_enums_file()
        if saved is not None and not refresh and time.time() - saved[0] < self._enums_ttl:
            with self._lock:
                self._enums = (self._clock(), saved[1])
            return saved[1]
        try:
            raw = self.get_json("/api/v1/enums")
            enums = Enums.from_json(raw)
            if not enums.model_types or not enums.base_models:
                raise e.BadResponseError(m.NOT_JSON)
        except e.CivitaiError:
            return saved[1] if saved is not None else fallback_enums()
        with self._lock:
            self._enums = (self._clock(), enums)
        self._write_enums_file(raw)
        return enums

    def saved_enums(self) -> Enums | None:
        """The enums saved by an earlier request, whatever their age; never a request (for building a UI)."""
        saved = self._read_enums_file()
        return saved[1] if saved else None

    def _read_enums_file(self) -> tuple[float, Enums] | None:
        if self._enums_file is None:
            return None
        try:
            stored = json.loads(self._enums_file.read_text(encoding="utf-8"))
            enums = Enums.from_json(stored["enums"])
            return (float(stored["fetched_at"]), enums) if enums.model_types and enums.base_models else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_enums_file(self, raw: Any) -> None:
        if self._enums_file is None:
            return
        try:
            write_json_atomic(self._enums_file, {"fetched_at": time.time(), "enums": raw})
        except OSError:
            pass  # a cache that cannot be written is only a slower start next time

    def get_images(self, version_id: int, *, limit: int = 20, nsfw: bool = True, cursor: str | None = None) -> Page:
        """Example images of a version with their generation parameters (``withMeta=true`` is needed since 2026)."""
        params = [("modelVersionId", str(int(version_id))), ("limit", str(limit)), ("withMeta", "true"),
                  ("nsfw", "true" if nsfw else "false")]
        if cursor:
            params.append(("cursor", cursor))
        return parse_image_page(self.get_json("/api/v1/images", params=params))

    def fetch_bytes(self, url: str, max_bytes: int = 32 * 1024 * 1024) -> tuple[bytes, str]:
        """A small resource (a preview image): its bytes and content type. Auth only if it is on Civitai's origin."""
        response = self.send("GET", url)
        if len(response.content) > max_bytes:
            raise e.BadResponseError(m.NOT_JSON, status=response.status_code, detail="too large")
        return response.content, response.headers.get("Content-Type", "")

    def resolve_download(self, download_url: str) -> ResolvedDownload:
        """Ask Civitai for a fresh signed URL of a file (call again before every resume: they expire)."""

        def ok(r: httpx.Response) -> bool:
            return r.status_code in (301, 302, 303, 307, 308) or r.status_code == 200

        response = self.send("GET", download_url, follow_redirects=False, ok=ok, stream=True)
        try:
            if response.status_code == 200:
                # Some mirrors serve the bytes directly; an error page with 200 is caught by the downloader's checks.
                return ResolvedDownload(str(response.url), redirected=False)
            location = response.headers.get("Location", "")
            target = urljoin(str(response.url), location)
            if "/login" in httpx.URL(target).path or "reason=download-auth" in target:
                raise e.AuthRequiredError(m.BAD_API_KEY if self.has_api_key else m.NEEDS_API_KEY,
                                          status=response.status_code, detail="login redirect")
            if not location:
                raise e.BadResponseError(m.NOT_JSON, status=response.status_code, detail="redirect without Location")
            return ResolvedDownload(target, redirected=True)
        finally:
            response.close()
