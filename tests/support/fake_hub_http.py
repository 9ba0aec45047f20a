"""The HTTP side of the fake Hub: API routes, the resolve redirect and the storage origin.

``FakeHub`` (in ``fake_hub``) owns the state; every handler reaches it as ``self.hub``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.support import fake_hub_data as data
from tests.support.fake_http import BaseHandler

if TYPE_CHECKING:
    from tests.support.fake_hub import FakeHub

_SECRET = b"fake-hub-storage-signing-secret"
ERRORS = data.sample("errors.json")
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Hugging Face mirror</title></head><body><h1>Welcome</h1>"
             b"<p>This is a web page, not the API.</p></body></html>")
_REPO = r"(?P<repo>[^/]+/[^/]+)"
API_ROUTES = (
    (re.compile(rf"^/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$"), "tree"),
    (re.compile(rf"^/api/models/{_REPO}/revision/(?P<rev>[^/]+)$"), "info"),
    (re.compile(rf"^/api/models/{_REPO}$"), "info"),
    (re.compile(r"^/api/models/?$"), "search"),
    (re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
)
PATHS_INFO = re.compile(rf"^/api/models/{_REPO}/paths-info/(?P<rev>[^/]+)$")
SORT_FIELDS = {"downloads": "downloads", "likes": "likes", "lastModified": "last_modified",
               "createdAt": "created_at", "trendingScore": "likes"}


def sign(sha256: str, expires: int) -> str:
    return hmac.new(_SECRET, f"{sha256}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["offset"])
    except (ValueError, KeyError, TypeError):
        return 0


class HubHandler(BaseHandler):
    @property
    def hub(self) -> FakeHub:
        return self.owner  # type: ignore[return-value]

    def send(self, status: int, body: bytes = b"", content_type: str = "application/json; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self.send_body(status, body, content_type, headers)

    def send_json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(obj).encode(), headers=headers)

    def send_recorded_error(self, name: str, **fill: object) -> None:
        """One of ``errors.json``'s recorded answers, ``{repo}``/``{revision}``/``{seconds}`` filled in."""
        rec = ERRORS[name]  # type: ignore[index]
        headers = {k: str(v).format(**fill) for k, v in rec["headers"].items()}
        content_type = headers.pop("Content-Type")
        body = rec["body"]
        if isinstance(body, dict):
            raw = json.dumps({k: str(v).format(**fill) for k, v in body.items()}).encode()
        else:
            raw = body.format(**fill).encode()
        self.send(rec["status"], raw, content_type, headers)

    def _record(self) -> tuple[str, dict]:
        _, query = self.record_request()
        return urlsplit(self.path).path, query

    def do_POST(self) -> None:  # noqa: N802
        path, _ = self._record()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/__fake__/faults":
            self.send_json(200, self.hub.set_faults(json.loads(body or b"{}")))
            return
        found = PATHS_INFO.match(path)
        if found and self.server.listener == "api":
            if self.hub.take_fault("html_pages"):
                self.send(200, HTML_PAGE, "text/html; charset=utf-8")
                return
            self.paths_info(unquote(found["repo"]), unquote(found["rev"]), body)
        else:
            self.send_json(404, {"error": "Not Found"})

    def do_GET(self) -> None:  # noqa: N802
        path, query = self._record()
        if self.server.listener == "storage":
            self.storage(path, query)
            return
        if self.hub.take_fault("rate_limit_times"):
            self.send_recorded_error("rate_limited", seconds=self.hub.faults.retry_after)
            return
        if self.hub.take_fault("html_pages"):
            self.send(200, HTML_PAGE, "text/html; charset=utf-8")
            return
        token = self.token()
        if token is not None and token not in self.hub.tokens:
            self.send_recorded_error("invalid_token")
            return
        for pattern, route in API_ROUTES:
            found = pattern.match(path)
            if found:
                groups = {k: unquote(v) if v else v for k, v in found.groupdict().items()}
                getattr(self, route)(query=query, token=token, **groups)
                return
        self.send(404, b"Not Found", "text/plain; charset=utf-8")

    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else None

    # -- access ----------------------------------------------------------------------------------
    def visible_repo(self, repo_id: str, token: str | None) -> data.Repo | None:
        """The repo, or None after answering as the Hub does for a missing or someone else's private repo."""
        repo = self.hub.repos.get(repo_id)
        if repo is not None and repo.private and token not in self.hub.owners:
            repo = None if token else repo  # another's token: as if missing (404); none: 401 below
            if repo is not None:
                self.send_recorded_error("private_without_token", repo=repo_id)
                return None
        if repo is None:
            self.send_recorded_error("repo_not_found", repo=repo_id)
        return repo

    def commit(self, repo: data.Repo, rev: str) -> str | None:
        sha = repo.branches.get(rev, rev)
        if sha not in repo.commits:
            self.send_recorded_error("revision_not_found", repo=repo.repo_id, revision=rev)
            return None
        return sha

    # -- API routes ------------------------------------------------------------------------------
    def search(self, query: dict, token: str | None) -> None:
        one = {k: v[-1] for k, v in query.items()}
        text, author = one.get("search", "").lower(), one.get("author", "").lower()
        tags, pipeline = query.get("filter", []), one.get("pipeline_tag")
        found = []
        for repo in list(self.hub.repos.values()):
            if repo.private and token not in self.hub.owners:
                continue
            if text and text not in repo.repo_id.lower():
                continue
            if author and repo.author.lower() != author:
                continue
            if pipeline and repo.pipeline_tag != pipeline:
                continue
            if any(t not in repo.tags for t in tags):
                continue
            found.append(repo)
        if one.get("sort") in SORT_FIELDS:
            found.sort(key=lambda r: getattr(r, SORT_FIELDS[one["sort"]]), reverse=one.get("direction", "-1") == "-1")
        limit = max(1, min(int(one.get("limit") or 1000), 1000))
        start = _offset(one.get("cursor"))
        page = found[start:start + limit]
        headers = {}
        if start + limit < len(found):
            headers["Link"] = self.next_link("/api/models", query, start + limit)
        self.send_json(200, [r.list_item(query.get("expand", [])) for r in page], headers)

    def next_link(self, path: str, query: dict, offset: int) -> str:
        params = [(k, v) for k, values in query.items() if k != "cursor" for v in values] + [("cursor", _cursor(offset))]
        origin = self.hub.faults.link_origin or self.origin
        return f'<{origin}{path}?{urlencode(params)}>; rel="next"'

    def info(self, query: dict, token: str | None, repo: str, rev: str = "main") -> None:
        found = self.visible_repo(repo, token)
        sha = found and self.commit(found, rev)
        if found and sha:
            self.send_json(200, found.info(sha, blobs=query.get("blobs", [""])[-1] == "true"))

    def tree(self, query: dict, token: str | None, repo: str, rev: str, path: str | None = None) -> None:
        found = self.visible_repo(repo, token)
        sha = found and self.commit(found, rev)
        if not (found and sha):
            return
        files = found.commits[sha]
        folder = (path or "").strip("/")
        prefix = folder + "/" if folder else ""
        if folder and not any(p.startswith(prefix) for p in files):
            self.send_recorded_error("entry_not_found", repo=repo)
            return
        recursive = query.get("recursive", ["false"])[-1].lower() in ("true", "1")
        entries: dict[str, dict] = {}
        for p, b in sorted(files.items()):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):].split("/")
            for depth in range(1, len(rest)):  # the folders on the way, as the Hub lists them
                if depth > 1 and not recursive:
                    break
                d = prefix + "/".join(rest[:depth])
                entries.setdefault(d, {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0,
                                       "path": d})
            if recursive or len(rest) == 1:
                entries[p] = b.tree_entry(p)
        ordered = sorted(entries.values(), key=lambda e: (e["path"].count("/"), e["type"] != "directory", e["path"]))
        size, start = self.hub.faults.tree_page_size, _offset(query.get("cursor", [None])[-1])
        headers = {}
        if start + size < len(ordered):
            headers["Link"] = self.next_link(urlsplit(self.path).path, query, start + size)
        self.send_json(200, ordered[start:start + size], headers)

    def paths_info(self, repo: str, rev: str, body: bytes) -> None:
        """The tree entries of the asked paths (form fields, as ``huggingface_hub`` sends them, or JSON); metadata
        is public for gated repos (only file contents are gated), so only private and missing repos are refused."""
        token = self.token()
        if token is not None and token not in self.hub.tokens:
            self.send_recorded_error("invalid_token")
            return
        found = self.visible_repo(repo, token)
        sha = found and self.commit(found, rev)
        if not (found and sha):
            return
        raw = body.decode("utf-8", errors="replace")
        if raw.lstrip().startswith("{"):
            paths = json.loads(raw).get("paths") or []
        else:
            paths = parse_qs(raw).get("paths", [])
        files = found.commits[sha]
        self.send_json(200, [files[p].tree_entry(p) for p in paths if p in files])

    def resolve(self, query: dict, token: str | None, repo: str, rev: str, path: str) -> None:
        found = self.visible_repo(repo, token)
        sha = found and self.commit(found, rev)
        if not (found and sha):
            return
        if found.gated and path not in ("README.md", ".gitattributes") and token not in self.hub.accepted:
            self.send_recorded_error("gated_not_accepted" if token else "gated_without_token", repo=repo)
            return
        b = found.commits[sha].get(path)
        if b is None:
            self.send_recorded_error("entry_not_found", repo=repo)
            return
        headers = {"X-Repo-Commit": sha, "ETag": f'"{b.git_oid}"', "Accept-Ranges": "bytes"}
        if not b.lfs:
            self.send(200, b.data, "text/plain; charset=utf-8", headers)
            return
        expires = int(time.time()) + 3600
        name = quote(path.rsplit("/", 1)[-1])
        location = (f"{self.hub.storage_url}/lfs/{b.sha256}?response-content-disposition="
                    f"{quote(f'inline; filename*=UTF-8{chr(39)}{chr(39)}{name};')}&Expires={expires}"
                    f"&Signature={sign(b.sha256, expires)}")
        headers.update({"Location": location, "X-Linked-Etag": f'"{b.sha256}"', "X-Linked-Size": str(len(b.data))})
        self.send(302, f"Found. Redirecting to {location}".encode(), "text/plain; charset=utf-8", headers)

    # -- storage ---------------------------------------------------------------------------------
    def blob_by_sha(self, sha256: str) -> data.Blob | None:
        for repo in list(self.hub.repos.values()):
            for tree in repo.commits.values():
                for b in tree.values():
                    if b.lfs and b.sha256 == sha256:
                        return b
        return None

    def storage(self, path: str, query: dict) -> None:
        xml = "application/xml"
        if "Authorization" in self.headers:
            self.send(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message>"
                      b"</Error>", xml)
            return
        found = re.match(r"^/lfs/([0-9a-f]{64})$", path)
        one = {k: v[-1] for k, v in query.items()}
        b = self.blob_by_sha(found.group(1)) if found else None
        try:
            expires = int(one.get("Expires", "0"))
        except ValueError:
            expires = 0
        if b is None or expires < time.time() or one.get("Signature") != sign(b.sha256, expires):
            self.send(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", xml)
            return
        size = len(b.data)
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{b.sha256}"'}
        wanted = self.headers.get("Range")
        if not wanted or self.hub.faults.ignore_range:
            self.send(200, b.data, "application/octet-stream", headers)
            return
        span = re.fullmatch(r"bytes=(\d*)-(\d*)", wanted.strip())
        if span is None or span.groups() == ("", ""):
            self.send(200, b.data, "application/octet-stream", headers)  # a Range we do not parse is ignored
            return
        first, last = span.groups()
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start >= size or start > end:
            self.send(416, b"<Error><Code>InvalidRange</Code></Error>", xml, {"Content-Range": f"bytes */{size}"})
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send(206, b.data[start:end + 1], "application/octet-stream", headers)
