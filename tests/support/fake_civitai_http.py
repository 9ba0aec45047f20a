"""The HTTP side of the fake Civitai server: routes, storage responses and fault injection.

``FakeCivitai`` (in ``fake_civitai``) owns the state; every handler reaches it as ``self.fake``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import time
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from tests.support import fake_civitai_data as data
from tests.support.fake_http import BaseHandler

if TYPE_CHECKING:
    from tests.support.fake_civitai import FakeCivitai, FakeFile

_CHUNK = 1 << 20
_SECRET = b"fake-civitai-signing-secret"
REAL_HOSTS = re.compile(r"https://(?:api\.)?civitai\.com")
IMAGE_HOSTS = re.compile(r"https://(?:image|imagecache)\.civitai\.com/")

OUTAGE_PAGE = (b"<!DOCTYPE html><html><head><title>civitai.com | 503: Service temporarily unavailable</title></head>"
               b"<body><h1>We'll be right back</h1><p>Civitai is down for maintenance.</p></body></html>")
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in | Civitai</title></head><body><form>Sign in</form></body></html>"


def _sha256_list_issues(hashes: object) -> list[dict]:
    """Zod's issues for Civitai's schema: an array (max 100) of strings of exactly 64 characters."""
    if not isinstance(hashes, list):
        return [{"code": "invalid_type", "expected": "array", "path": [], "message": "Expected array"}]
    issues: list[dict] = []
    for i, h in enumerate(hashes):
        if not isinstance(h, str):
            issues.append({"code": "invalid_type", "expected": "string", "path": [i], "message": "Expected string"})
        elif len(h) != 64:
            issues.append({"code": "custom", "path": [i], "message": "Invalid hash"})
    if len(hashes) > 100:
        issues.append({"code": "too_big", "maximum": 100, "type": "array", "inclusive": True, "path": [],
                       "message": "Too many hashes"})
    return issues


def sign(key: str, expires: int) -> str:
    return hmac.new(_SECRET, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


class FakeHandler(BaseHandler):
    @property
    def fake(self) -> FakeCivitai:
        return self.owner  # type: ignore[return-value]

    def send_json(self, status: int, payload: object, headers: dict | None = None) -> None:
        text = json.dumps(payload)
        text = REAL_HOSTS.sub(self.origin, text)
        text = IMAGE_HOSTS.sub(self.origin + "/img/", text)
        self.send_body(status, text.encode("utf-8"), "application/json; charset=utf-8", headers)

    def error(self, status: int, message: object, **extra: object) -> None:
        self.send_json(status, dict({"error": message}, **extra))

    def hang(self) -> None:
        self.close_connection = True
        self.fake._stopping.wait(120)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path, query = self.record_request()
        body = b""
        if self.command == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/storage/"):
            return self._storage(path, query)
        if self.server.listener == "storage":
            return self.send_body(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        if path.startswith("/img/"):
            return self._image(path)
        if path.startswith("/__fake__/"):
            return self._control(path, body)
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

    # -- test control (for a server in another process: e2e tests, benchmarks) ------------------
    def _control(self, path: str, body: bytes) -> None:
        try:
            payload = json.loads(body.decode("utf-8") or "{}") if self.command == "POST" else {}
        except ValueError:
            return self.error(400, "Invalid JSON body")
        if path == "/__fake__/faults":
            faults = self.fake.faults
            if payload.get("reset"):
                faults.reset()
            unknown = [k for k in payload if k != "reset" and not hasattr(faults, k)]
            if unknown:
                return self.error(400, f"Unknown faults: {unknown}")
            for key, value in payload.items():
                if key != "reset":
                    setattr(faults, key, value)
            return self.send_json(200, dict(vars(faults)))
        if path == "/__fake__/files" and self.command == "POST":
            try:
                f = self.fake.add_file(**payload)
            except TypeError as exc:
                return self.error(400, str(exc))
            return self.send_json(200, {"version_id": f.version_id, "model_id": f.model_id, "name": f.name,
                                        "size": f.size, "sha256": f.sha256, "download_url": f.download_url})
        return self.error(404, "Not found")

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
        faults = self.fake.faults
        if faults.slow_model_id == model_id and faults.slow_model_s > 0:
            time.sleep(faults.slow_model_s)
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
        missing = self.fake.faults.bulk_by_hash_status
        if missing:
            return self.error(missing, "Method not allowed" if missing == 405 else "Not found")
        if self.command != "POST":
            return self.error(405, "Method not allowed")
        try:
            hashes = json.loads(body.decode("utf-8"))
        except ValueError:
            hashes = None
        issues = _sha256_list_issues(hashes)
        if issues:
            # Civitai: 400 {"error": "Request must include an array of SHA256 Hashes. " + the ZodError's message}
            return self.error(400, "Request must include an array of SHA256 Hashes. " + json.dumps(issues, indent=2))
        self.fake.bulk_calls.append(len(hashes))
        self.send_json(200, self.fake._versions_by_sha256([h.upper() for h in hashes]))

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
        if f is None or f.removed:
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
                    f"&sig={sign(key, expires)}&response-content-disposition={disposition}")
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
        if not hmac.compare_digest(query.get("sig", [""])[-1], sign(key, expires)):
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
        if faults.storage_redirect_loop:
            return self.send_body(302, b"", "text/plain", {"Location": self.path})
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
                # The fast path: the kernel copies file → socket (socket.sendfile falls back to send()
                # where os.sendfile is missing), so the server is never the bottleneck.
                sock.sendfile(fh, start, length)
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
