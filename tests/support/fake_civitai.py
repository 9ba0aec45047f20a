"""A faithful fake Civitai: a real threaded HTTP/1.1 server on 127.0.0.1 (ephemeral ports).

Used by the unit tests, the e2e tests and the benchmarks. Nothing here touches the internet.

Quick start::

    from tests.support.fake_civitai import FakeCivitai

    with FakeCivitai(api_key="test-key") as srv:
        srv.url                       # "http://127.0.0.1:<port>": the API origin (give it to CivitaiClient)
        srv.storage_url               # a second listener: the signed-URL "storage host" (another origin)
        f = srv.add_file(data=b"weights", name="castle.safetensors", model_type="LORA")
        big = srv.add_file(size=64 << 20)  # a generated file of N bytes on disk (benchmarks)
        f.version_id, f.model_id, f.sha256, f.size, f.download_url, f.version_json()
        srv.faults.throttle_bps = 1_000_000       # per connection, storage route
        srv.faults.reset()
        srv.requests                              # every request seen: RecordedRequest(listener, method, path, query, headers)

Routes (API origin; every URL in a JSON answer is rewritten to the server's own origin):

- ``GET /api/v1/models``: filters ``types`` (repeatable), ``baseModels``, ``query``, ``tag``, ``username``,
  ``ids``, ``nsfw``; ``limit`` (>100 → 400 ZodError), ``page`` (``page*limit>1000`` → 429; with ``query`` → 400),
  ``cursor`` (opaque; wins over ``page``); ``metadata.nextCursor``/``nextPage`` built from the request's origin
  and query string, absent on the last page; ``currentPage``/``pageSize`` only for page requests.
- ``GET /api/v1/models/{id}``: 400 for a bad id, 404 ``No model with id N``; Archived/TakenDown/empty-versions
  variants (see ``fake_civitai_data``).
- ``GET /api/v1/model-versions/{id}``, ``GET /api/v1/model-versions/by-hash/{hash}`` (case-insensitive, any
  hash kind), ``POST /api/v1/model-versions/by-hash`` (≤100 SHA256, else 400), ``GET /api/v1/images``
  (``modelVersionId``, ``withMeta``), ``GET /api/v1/tags``, ``GET /api/v1/enums``, ``GET /login`` (an HTML page).
- ``GET /api/download/models/{versionId}`` (``?token=`` or ``Authorization: Bearer``): per file, in Civitai's
  order: 429 limiter fault, 404 ``File not found``, 410 archived, 401 downloads disabled, 401 login required
  (or, with ``FakeFile.login_redirect``, the older 307 to ``/login?...reason=download-auth``), 403 Early Access
  with ``deadline``, else **307** to a signed, expiring ``{storage_url}/storage/...`` URL.
- Storage (both listeners): 400 if any ``Authorization`` header is sent (as S3/R2 do), 403 when the signature
  is wrong or expired, ``Content-Disposition`` (``FakeFile.cd_style``: ``"plain"``, ``"utf8-raw"``,
  ``"rfc5987"``, ``None``), ``Content-Length``, ``Accept-Ranges: bytes``, ``Range`` → 206 / 416.
- ``GET /img/...``: a generated JPEG (or an mp4 body for video URLs).

Fault switches (``srv.faults``, all off by default): ``throttle_bps`` (per connection), ``drop_after`` bytes
(``drop_times`` limits how many responses are cut), ``ignore_range``, ``corrupt_at`` (flip the byte at that
offset), ``hang_storage`` / ``hang_api`` (accept, never answer), ``outage_times`` (HTML 503 for that many API
requests; -1 = always), ``rate_limit_times`` (429 with ``Retry-After``), ``download_rate_limited``,
``storage_html`` (200 text/html page instead of the file), ``no_accept_ranges``, ``no_content_length``,
``short_body`` (Content-Length says more than is sent), ``empty_pages`` (list pages with a cursor and no items),
``signed_url_ttl`` (seconds; expired signatures answer 403).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.support import fake_civitai_data as data

_CHUNK = 1 << 20
_SECRET = b"fake-civitai-signing-secret"
_REAL_HOSTS = re.compile(r"https://(?:api\.)?civitai\.com")
_IMAGE_HOSTS = re.compile(r"https://(?:image|imagecache)\.civitai\.com/")

OUTAGE_PAGE = (b"<!DOCTYPE html><html><head><title>civitai.com | 503: Service temporarily unavailable</title></head>"
               b"<body><h1>We'll be right back</h1><p>Civitai is down for maintenance.</p></body></html>")
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in | Civitai</title></head><body><form>Sign in</form></body></html>"


@dataclass
class Faults:
    throttle_bps: int | None = None
    drop_after: int | None = None
    drop_times: int | None = None
    ignore_range: bool = False
    corrupt_at: int | None = None
    hang_storage: bool = False
    hang_api: bool = False
    outage_times: int = 0
    rate_limit_times: int = 0
    retry_after: int = 1
    download_rate_limited: bool = False
    storage_html: bool = False
    no_accept_ranges: bool = False
    no_content_length: bool = False
    short_body: bool = False
    empty_pages: bool = False
    signed_url_ttl: float = 300.0

    def reset(self) -> None:
        for name, value in Faults().__dict__.items():
            setattr(self, name, value)


@dataclass
class RecordedRequest:
    listener: str  # "api" | "storage"
    method: str
    path: str
    query: dict
    headers: dict


@dataclass
class FakeFile:
    """A downloadable file registered with ``FakeCivitai.add_file`` (attributes may be changed by tests)."""

    server: FakeCivitai = field(repr=False)
    version_id: int
    model_id: int
    file_id: int
    name: str
    path: Path
    size: int
    sha256: str
    hashes: dict
    model_type: str = "LORA"
    model_name: str = "Fake Model"
    version_name: str = "v1"
    base_model: str = "SD 1.5"
    trained_words: list = field(default_factory=lambda: ["fake trigger"])
    description: str = "<p>A <b>fake</b> model.</p>"
    version_description: str = "<p>Version notes.</p>"
    require_auth: bool = True
    login_redirect: bool = False
    cd_style: str | None = "plain"
    mode: str | None = None  # "Archived" | "TakenDown"
    usage_control: str = "Download"
    early_access_deadline: str | None = None
    nsfw_level: int = 1
    images: list = field(default_factory=list)

    @property
    def download_url(self) -> str:
        return f"{self.server.url}/api/download/models/{self.version_id}"

    def version_json(self, origin: str | None = None, *, with_model: bool = True) -> dict:
        origin = origin or self.server.url
        v = {
            "id": self.version_id, "modelId": self.model_id, "name": self.version_name,
            "createdAt": "2025-01-08T06:00:00.000Z", "updatedAt": "2025-01-08T06:30:00.000Z", "status": "Published",
            "publishedAt": "2025-01-08T06:30:00.000Z", "trainedWords": list(self.trained_words),
            "baseModel": self.base_model, "baseModelType": "Standard", "earlyAccessEndsAt": self.early_access_deadline,
            "description": self.version_description, "uploadType": "Created", "usageControl": self.usage_control,
            "air": f"urn:air:sd1:lora:civitai:{self.model_id}@{self.version_id}", "nsfwLevel": self.nsfw_level,
            "stats": {"downloadCount": 1, "thumbsUpCount": 1},
            "files": [] if self.mode else [{
                "id": self.file_id, "sizeKB": self.size / 1024, "name": self.name, "type": "Model",
                "pickleScanResult": "Success", "virusScanResult": "Success", "scannedAt": "2025-01-08T06:16:27.731Z",
                "metadata": {"format": "SafeTensor", "size": None, "fp": None}, "hashes": dict(self.hashes),
                "primary": True, "downloadUrl": f"{origin}/api/download/models/{self.version_id}"}],
            "images": [] if self.mode == "TakenDown" else [dict(i, url=i["url"].replace("ORIGIN", origin)) for i in self.images],
        }
        if not self.mode:
            v["downloadUrl"] = f"{origin}/api/download/models/{self.version_id}"
        if with_model:
            v["model"] = {"name": self.model_name, "type": self.model_type, "nsfw": False, "poi": False}
            if self.mode:
                v["model"]["mode"] = self.mode
        return v


def _hashes_of(path: Path) -> tuple[str, dict]:
    sha, crc, size = hashlib.sha256(), 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
        auto_v1 = None
        if size >= 0x200000:
            fh.seek(0x100000)
            auto_v1 = hashlib.sha256(fh.read(0x10000)).hexdigest()[:8].upper()
    digest = sha.hexdigest().upper()
    hashes = {"AutoV2": digest[:10], "SHA256": digest, "CRC32": f"{crc:08X}"}
    if auto_v1:
        hashes["AutoV1"] = auto_v1
    return digest, hashes


def _sign(key: str, expires: int) -> str:
    return hmac.new(_SECRET, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung handler must never block shutdown
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, fake: FakeCivitai, listener: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.listener = listener


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def fake(self) -> FakeCivitai:
        return self.server.fake

    @property
    def origin(self) -> str:
        return f"http://{self.headers.get('Host') or self.fake.url.split('://', 1)[1]}"

    def send_body(self, status: int, body: bytes, content_type: str = "application/json",
                  headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: object, headers: dict | None = None) -> None:
        text = json.dumps(payload)
        text = _REAL_HOSTS.sub(self.origin, text)
        text = _IMAGE_HOSTS.sub(self.origin + "/img/", text)
        self.send_body(status, text.encode("utf-8"), "application/json; charset=utf-8", headers)

    def error(self, status: int, message: object, **extra: object) -> None:
        self.send_json(status, dict({"error": message}, **extra))

    def hang(self) -> None:
        self.close_connection = True
        self.fake._stopping.wait(120)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        self.fake._record(RecordedRequest(self.server.listener, self.command, path, query, dict(self.headers.items())))
        body = b""
        if self.command == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/storage/"):
            return self._storage(path, query)
        if self.server.listener == "storage":
            return self.send_body(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        if path.startswith("/img/"):
            return self._image(path)
        if path == "/login":
            return self.send_body(200, LOGIN_PAGE, "text/html; charset=utf-8")
        faults = self.fake.faults
        if faults.hang_api:
            return self.hang()
        if faults.outage_times:
            faults.outage_times -= 1 if faults.outage_times > 0 else 0
            return self.send_body(503, OUTAGE_PAGE, "text/html; charset=utf-8", {"Retry-After": "1"})
        if faults.rate_limit_times > 0:
            faults.rate_limit_times -= 1
            return self.send_json(429, {"error": "Too Many Requests"}, {"Retry-After": str(faults.retry_after)})
        routes = [
            (r"/api/v1/models", self._models),
            (r"/api/v1/models/(?P<id>[^/]+)", self._model),
            (r"/api/v1/model-versions/by-hash", self._by_hash_post),
            (r"/api/v1/model-versions/by-hash/(?P<hash>[^/]+)", self._by_hash),
            (r"/api/v1/model-versions/(?P<id>[^/]+)", self._version),
            (r"/api/v1/images", self._images),
            (r"/api/v1/tags", self._tags),
            (r"/api/v1/enums", self._enums),
            (r"/api/download/models/(?P<id>[^/]+)", self._download),
        ]
        for pattern, handler in routes:
            match = re.fullmatch(pattern, path.rstrip("/"))
            if match:
                return handler(query=query, body=body, **match.groupdict())
        self.error(404, "Not found")

    # -- API routes -----------------------------------------------------------------------------
    def _models(self, query: dict, body: bytes) -> None:
        one = {k: v[-1] for k, v in query.items()}
        try:
            limit = int(one.get("limit", "100"))
        except ValueError:
            limit = -1
        if not 0 <= limit <= 100:
            issues = [{"code": "too_big", "maximum": 100, "type": "number", "inclusive": True, "path": ["limit"],
                       "message": "Number must be less than or equal to 100"}]
            return self.error(400, {"name": "ZodError", "message": json.dumps(issues)})
        text = one.get("query", "").strip()
        cursor = one.get("cursor")
        page = one.get("page")
        if page and not cursor:
            if text:
                return self.error(400, "Cannot use page param with query search. Use cursor-based pagination.")
            if int(page) * limit > 1000:
                return self.error(429, "You've requested too many pages, please use cursors instead")
        items = self.fake._search(query)
        offset = 0
        if cursor:
            try:
                offset = int(cursor.split("|")[-1])
            except ValueError:
                return self.error(400, "Invalid cursor")
        elif page:
            offset = (int(page) - 1) * limit
        chunk = items[offset:offset + limit]
        metadata: dict = {}
        if self.fake.faults.empty_pages:
            chunk = []
        if offset + limit < len(items) or self.fake.faults.empty_pages:
            next_offset = offset + limit
            next_cursor = str(next_offset) if text else f"{chunk[-1]['id'] if chunk else 0}|{next_offset * 7}|{next_offset}"
            pairs = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs] + [("cursor", next_cursor)]
            metadata["nextCursor"] = next_cursor
            metadata["nextPage"] = f"{self.origin}/api/v1/models?{urlencode(pairs, quote_via=quote)}"
        if page and not cursor:
            metadata.update(currentPage=int(page), pageSize=limit)
        self.send_json(200, {"items": chunk, "metadata": metadata})

    def _model(self, id: str, query: dict, body: bytes) -> None:  # noqa: A002
        try:
            model_id = int(id)
            if not 1 <= model_id <= 2147483647:
                raise ValueError
        except ValueError:
            return self.error(400, "Expected number, received nan")
        model = self.fake._model_json(model_id)
        if model is None:
            return self.error(404, f"No model with id {model_id}")
        if model_id == data.GLITCH_MODEL_ID:
            model = dict(model, modelVersions=[])
        self.send_json(200, model)

    def _version(self, id: str, query: dict, body: bytes) -> None:  # noqa: A002
        version = self.fake._version_json(int(id)) if id.isdigit() else None
        if version is None:
            return self.error(404, "Model not found")
        self.send_json(200, version)

    def _by_hash(self, hash: str, query: dict, body: bytes) -> None:  # noqa: A002
        version = self.fake._find_hash(hash.upper())
        if version is None:
            return self.error(404, "Model not found")
        self.send_json(200, version)

    def _by_hash_post(self, query: dict, body: bytes) -> None:
        if self.command != "POST":
            return self.error(405, "Method not allowed")
        try:
            hashes = json.loads(body.decode("utf-8"))
        except ValueError:
            return self.error(400, "Invalid JSON body")
        if not isinstance(hashes, list) or len(hashes) > 100 or any(not isinstance(h, str) or len(h) != 64 for h in hashes):
            return self.error(400, "Expected an array of at most 100 SHA256 hashes")
        self.fake.bulk_calls.append(len(hashes))
        found = [v for v in (self.fake._find_hash(h.upper(), sha256_only=True) for h in hashes) if v is not None]
        self.send_json(200, found)

    def _images(self, query: dict, body: bytes) -> None:
        one = {k: v[-1] for k, v in query.items()}
        version = self.fake._version_json(int(one.get("modelVersionId", "0") or 0))
        with_meta = one.get("withMeta", "false") == "true"
        words = {1: "None", 2: "Soft", 4: "Mature", 8: "X", 16: "X"}
        items = []
        for i, img in enumerate((version or {}).get("images", [])):
            level = img.get("nsfwLevel") if isinstance(img.get("nsfwLevel"), int) else 1
            items.append({"id": img.get("id", i), "url": img["url"], "hash": img.get("hash"), "width": img.get("width"),
                          "height": img.get("height"), "type": img.get("type", "image"), "nsfw": level > 2,
                          "nsfwLevel": words.get(level, "None"), "browsingLevel": level, "postId": 1,
                          "username": "fakecreator", "modelVersionIds": [version["id"]] if version else [],
                          "meta": (img.get("meta") or {"prompt": "a fake prompt", "seed": 1, "steps": 20})
                          if with_meta else None})
        self.send_json(200, {"items": items, "metadata": {}})

    def _tags(self, query: dict, body: bytes) -> None:
        self.send_json(200, {"items": data.TAGS, "metadata": {"totalItems": 0, "currentPage": 1, "pageSize": 20}})

    def _enums(self, query: dict, body: bytes) -> None:
        self.send_json(200, data.ENUMS)

    # -- downloads ------------------------------------------------------------------------------
    def _authorised(self, query: dict) -> bool:
        key = self.fake.api_key
        header = self.headers.get("Authorization", "")
        return bool(key) and (header == f"Bearer {key}" or query.get("token", [""])[-1] == key)

    def _download(self, id: str, query: dict, body: bytes) -> None:  # noqa: A002
        faults = self.fake.faults
        if faults.download_rate_limited:
            return self.error(429, "We've noticed an unusual amount of downloading from your account. "
                                   "Contact support@civitai.com or come back later.")
        f = self.fake.files.get(int(id)) if id.isdigit() else None
        if f is None:
            if id.isdigit() and int(id) == data.ARCHIVED_VERSION_ID:
                return self.error(410, "Model archived, not available for download")
            return self.error(404, "File not found")
        if f.mode:
            return self.error(410, "Model archived, not available for download")
        if f.usage_control != "Download":
            return self.send_json(401, {"error": "Unauthorized",
                                        "message": "The creator of this asset has disabled downloads on this file"})
        if f.require_auth and not self._authorised(query):
            if f.login_redirect:
                location = f"{self.origin}/login?returnUrl=/model-versions/{f.version_id}&reason=download-auth"
                return self.send_body(307, b"", "text/plain", {"Location": location})
            return self.send_json(401, {"error": "Unauthorized",
                                        "message": "The creator of this asset requires you to be logged in to download it"})
        if f.early_access_deadline:
            return self.send_json(403, {"error": "Early Access", "deadline": f.early_access_deadline,
                                        "message": "This asset is in Early Access. You can use Buzz access it now!"})
        expires = int(time.time() + faults.signed_url_ttl)
        key = str(f.version_id)
        disposition = quote(f'attachment; filename="{f.name}"')
        location = (f"{self.fake.storage_url}/storage/{key}/{quote(f.name, safe='')}?expires={expires}"
                    f"&sig={_sign(key, expires)}&response-content-disposition={disposition}")
        self.fake.signed_urls_issued += 1
        self.send_body(307, b"", "text/plain", {"Location": location, "Cache-Control": "no-store, max-age=0"})

    def _storage(self, path: str, query: dict) -> None:
        faults = self.fake.faults
        if "Authorization" in self.headers:
            self.fake.storage_auth_rejections += 1
            return self.send_body(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                                       b"</Message></Error>", "application/xml")
        parts = path.split("/")
        key = parts[2] if len(parts) > 3 else ""
        expires = int(query.get("expires", ["0"])[-1] or 0)
        if not hmac.compare_digest(query.get("sig", [""])[-1], _sign(key, expires)):
            return self.send_body(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
        if expires < time.time():
            return self.send_body(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                                  "application/xml")
        f = self.fake.files.get(int(key)) if key.isdigit() else None
        if f is None:
            return self.send_body(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        if faults.hang_storage:
            return self.hang()
        if faults.storage_html:
            return self.send_body(200, LOGIN_PAGE, "text/html; charset=utf-8")
        start, end = 0, f.size - 1
        status = 200
        range_header = self.headers.get("Range")
        if range_header and not (faults.ignore_range or faults.no_accept_ranges):
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
            if not match or not match.group(1) or int(match.group(1)) >= f.size:
                return self.send_body(416, b"", "application/xml", {"Content-Range": f"bytes */{f.size}"})
            start = int(match.group(1))
            if match.group(2):
                end = min(int(match.group(2)), f.size - 1)
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        length = end - start + 1
        if faults.no_content_length:
            self.close_connection = True  # the body ends when the connection does
        else:
            self.send_header("Content-Length", str(length + (1024 if faults.short_body else 0)))
        if not faults.no_accept_ranges:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{f.size}")
        disposition = self._disposition(f)
        if disposition:
            self.send_header("Content-Disposition", disposition)
        self.send_header("ETag", f'"{f.sha256[:16].lower()}"')
        self.end_headers()
        if self.command == "HEAD":
            return
        self._send_file(f, start, length)

    @staticmethod
    def _disposition(f: FakeFile) -> str | None:
        if f.cd_style in ("plain", "utf8-raw"):
            # Civitai puts the name in as raw UTF-8 bytes; http.server encodes headers as latin-1, so
            # this string is those bytes. "plain" differs only for the ASCII names it is meant for.
            return 'attachment; filename="' + f.name.encode("utf-8").decode("latin-1") + '"'
        if f.cd_style == "rfc5987":
            fallback = f.name.encode("ascii", "replace").decode("ascii").replace("?", "_")
            return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(f.name)}"
        return None

    def _send_file(self, f: FakeFile, start: int, length: int) -> None:
        faults = self.fake.faults
        drop_at = None
        if faults.drop_after is not None and (faults.drop_times is None or faults.drop_times > 0):
            drop_at = faults.drop_after
            if faults.drop_times is not None:
                faults.drop_times -= 1
        throttle = faults.throttle_bps
        corrupt = faults.corrupt_at
        sock = self.connection
        with open(f.path, "rb") as fh:
            if drop_at is None and throttle is None and corrupt is None:
                # The fast path: the kernel copies file → socket, so the server is never the bottleneck.
                offset, left = start, length
                while left > 0:
                    sent = os.sendfile(sock.fileno(), fh.fileno(), offset, min(left, 1 << 30))
                    if sent == 0:
                        break
                    offset += sent
                    left -= sent
                if faults.short_body:
                    self.close_connection = True
                return
            fh.seek(start)
            sent, began = 0, time.monotonic()
            chunk_size = _CHUNK if throttle is None else max(1024, min(_CHUNK, throttle // 20))
            while sent < length:
                n = min(chunk_size, length - sent)
                if drop_at is not None:
                    n = min(n, drop_at - sent)
                    if n <= 0:
                        break
                block = bytearray(fh.read(n))
                if corrupt is not None and start + sent <= corrupt < start + sent + len(block):
                    block[corrupt - start - sent] ^= 0xFF
                sock.sendall(block)
                sent += len(block)
                if throttle:
                    delay = began + sent / throttle - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        if drop_at is not None or faults.short_body:
            self.close_connection = True
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _image(self, path: str) -> None:
        if self.fake._is_video(path):
            return self.send_body(200, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
        self.send_body(200, self.fake._jpeg(path), "image/jpeg")


class FakeCivitai:
    """See the module docstring. Start with ``with FakeCivitai() as srv:`` (or ``start()``/``stop()``)."""

    def __init__(self, api_key: str | None = "test-key", workdir: str | os.PathLike | None = None) -> None:
        self.api_key = api_key
        self.faults = Faults()
        self.files: dict[int, FakeFile] = {}
        self.requests: list[RecordedRequest] = []
        self.bulk_calls: list[int] = []
        self.signed_urls_issued = 0
        self.storage_auth_rejections = 0
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="fake-civitai-"))
        self._models = {m["id"]: m for m in data.all_models()}
        self._extra_versions = {v["id"]: v for v in data.recorded_versions()}
        self._video_paths: set[str] = set()
        self._jpegs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._servers: list[_Server] = []
        self._next_id = 800000
        self.url = ""
        self.storage_url = ""

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeCivitai:
        api, storage = _Server(self, "api"), _Server(self, "storage")
        self._servers = [api, storage]
        for srv in self._servers:
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{api.server_address[1]}"
        self.storage_url = f"http://127.0.0.1:{storage.server_address[1]}"
        return self

    def stop(self) -> None:
        self._stopping.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers = []
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> FakeCivitai:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- registration ---------------------------------------------------------------------------
    def add_file(self, *, data: bytes | None = None, size: int | None = None, name: str = "fake_model.safetensors",
                 version_id: int | None = None, model_id: int | None = None, model_type: str = "LORA",
                 images: list | None = None, **attrs: object) -> FakeFile:
        """Register a downloadable file; ``data`` bytes, or ``size`` generated bytes written to disk.

        Extra keyword arguments set ``FakeFile`` attributes (``cd_style``, ``require_auth``, ``mode``,
        ``usage_control``, ``early_access_deadline``, ``login_redirect``, ``base_model``, ``trained_words`` …).
        Default images: a video, an X-rated image and a PG image (in that order), so preview selection is tested.
        """
        with self._lock:
            self._next_id += 1
            version_id = version_id or self._next_id
            model_id = model_id or version_id + 1_000_000
        path = self.workdir / f"file-{version_id}.bin"
        if data is not None:
            path.write_bytes(data)
        else:
            with open(path, "wb") as fh:
                left = int(size or 0)
                while left > 0:
                    block = os.urandom(min(_CHUNK * 4, left))
                    fh.write(block)
                    left -= len(block)
        sha, hashes = _hashes_of(path)
        if images is None:
            images = [
                {"id": version_id * 10 + 1, "url": f"ORIGIN/img/fake/{version_id}-1/width=450/{version_id}1.mp4",
                 "type": "video", "nsfwLevel": 1, "width": 512, "height": 512, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC"},
                {"id": version_id * 10 + 2, "url": f"ORIGIN/img/fake/{version_id}-2/width=450/{version_id}2.jpeg",
                 "type": "image", "nsfwLevel": 8, "width": 512, "height": 512, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC"},
                {"id": version_id * 10 + 3, "url": f"ORIGIN/img/fake/{version_id}-3/width=450/{version_id}3.jpeg",
                 "type": "image", "nsfwLevel": 1, "width": 512, "height": 512, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC",
                 "meta": {"prompt": "fake trigger, a castle", "seed": 42, "steps": 20, "sampler": "Euler a"}},
            ]
        f = FakeFile(self, version_id, model_id, version_id * 10, name, path, path.stat().st_size, sha, hashes,
                     model_type=model_type, images=images)
        for key, value in attrs.items():
            if not hasattr(f, key):
                raise TypeError(f"FakeFile has no attribute {key!r}")
            setattr(f, key, value)
        for img in images:
            if img.get("type") == "video":
                self._video_paths.add(urlsplit(img["url"].replace("ORIGIN", "http://x")).path)
        with self._lock:
            self.files[version_id] = f
        return f

    def requests_to(self, listener: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.listener == listener]

    # -- catalogue ------------------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _file_models(self) -> dict[int, dict]:
        models: dict[int, dict] = {}
        for f in list(self.files.values()):
            m = models.setdefault(f.model_id, {
                "id": f.model_id, "name": f.model_name, "description": f.description, "type": f.model_type,
                "poi": False, "nsfw": f.nsfw_level > 2, "nsfwLevel": f.nsfw_level, "allowNoCredit": True,
                "allowCommercialUse": ["Image", "RentCivit"], "allowDerivatives": True, "allowDifferentLicense": True,
                "stats": {"downloadCount": 1, "thumbsUpCount": 1}, "creator": {"username": "fakecreator", "image": None},
                "tags": ["style"], "modelVersions": []})
            if f.mode:
                m["mode"] = f.mode
            m["modelVersions"].append(dict(f.version_json("ORIGIN", with_model=False), index=len(m["modelVersions"])))
        return models

    def _all_models(self) -> list[dict]:
        models = dict(self._models)
        models.update(self._file_models())
        return list(models.values())

    def _model_json(self, model_id: int) -> dict | None:
        model = next((m for m in self._all_models() if m["id"] == model_id), None)
        return self._origin_fix(model)

    def _origin_fix(self, obj: dict | None) -> dict | None:
        if obj is None:
            return None
        return json.loads(json.dumps(obj).replace("ORIGIN", "https://civitai.com"))

    def _versions(self):
        for model in self._all_models():
            for v in model.get("modelVersions", []):
                full = dict(v)
                full.setdefault("modelId", model["id"])
                full["model"] = {"name": model["name"], "type": model["type"], "nsfw": model.get("nsfw", False),
                                 "poi": model.get("poi", False)}
                if model.get("mode"):
                    full["model"]["mode"] = model["mode"]
                yield full
        yield from (copy.deepcopy(v) for v in self._extra_versions.values())

    def _version_json(self, version_id: int) -> dict | None:
        f = self.files.get(version_id)
        if f is not None:
            return self._origin_fix(f.version_json("ORIGIN"))
        return self._origin_fix(next((v for v in self._versions() if v["id"] == version_id), None))

    def _find_hash(self, wanted: str, sha256_only: bool = False) -> dict | None:
        for v in self._versions():
            for f in v.get("files", []):
                hashes = {k: str(h).upper() for k, h in (f.get("hashes") or {}).items() if h}
                if (hashes.get("SHA256") == wanted) if sha256_only else (wanted in hashes.values()):
                    return self._origin_fix(v)
        return None

    def _search(self, query: dict) -> list[dict]:
        one = {k: v[-1] for k, v in query.items()}
        types = set(query.get("types", []))
        bases = set(query.get("baseModels", []))
        text = one.get("query", "").strip().lower()
        tag = one.get("tag", "").lower()
        user = one.get("username", "").lower()
        ids = {int(i) for i in one.get("ids", "").split(",") if i.strip().isdigit()}
        nsfw = one.get("nsfw", "false").lower() == "true"
        out = []
        for m in self._all_models():
            if m.get("mode") == "TakenDown" or (m["id"] == data.GLITCH_MODEL_ID and not ids):
                continue
            if ids and m["id"] not in ids:
                continue
            if types and m.get("type") not in types:
                continue
            if bases and not any(v.get("baseModel") in bases for v in m.get("modelVersions", [])):
                continue
            if text and text not in m.get("name", "").lower():
                continue
            tags = [t if isinstance(t, str) else t.get("name", "") for t in m.get("tags", [])]
            if tag and tag not in [t.lower() for t in tags]:
                continue
            if user and (m.get("creator") or {}).get("username", "").lower() != user:
                continue
            level = m.get("nsfwLevel")
            if not nsfw and ((level & 1) == 0 if isinstance(level, int) else bool(m.get("nsfw"))):
                continue
            out.append(self._origin_fix(m))
        return out

    def _is_video(self, path: str) -> bool:
        if path.lower().endswith((".mp4", ".webm")):
            return True
        if path in self._video_paths or path.replace("/img", "", 1) in self._video_paths:
            return True
        with self._lock:
            if not hasattr(self, "_sample_videos"):
                urls = {i["url"] for m in self._models.values() for v in m.get("modelVersions", [])
                        for i in v.get("images", []) if i.get("type") == "video"}
                self._sample_videos = {_IMAGE_HOSTS.sub("/img/", u) for u in urls}
        return path in self._sample_videos

    def _jpeg(self, path: str) -> bytes:
        with self._lock:
            if path not in self._jpegs:
                from PIL import Image

                digest = hashlib.sha256(path.encode()).digest()
                buf = io.BytesIO()
                Image.new("RGB", (64, 96), tuple(digest[:3])).save(buf, "JPEG")
                self._jpegs[path] = buf.getvalue()
            return self._jpegs[path]


def main(argv: list[str] | None = None) -> None:
    """Run the server in its own process (benchmarks): prints one JSON line, serves until stdin closes.

    ``python -m tests.support.fake_civitai --file-size 67108864 [--throttle-bps N] [--api-key K]``
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--file-size", type=int, action="append", default=[], help="register a generated file")
    parser.add_argument("--throttle-bps", type=int, default=None, help="per-connection storage throttle")
    parser.add_argument("--api-key", default="test-key")
    args = parser.parse_args(argv)
    with FakeCivitai(api_key=args.api_key) as srv:
        srv.faults.throttle_bps = args.throttle_bps
        files = [srv.add_file(size=n, name=f"bench-{i}.safetensors") for i, n in enumerate(args.file_size)]
        print(json.dumps({"url": srv.url, "storage_url": srv.storage_url, "files": [
            {"version_id": f.version_id, "name": f.name, "size": f.size, "sha256": f.sha256,
             "download_url": f.download_url} for f in files]}), flush=True)
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us


if __name__ == "__main__":
    main()
