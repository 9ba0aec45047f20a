"""A tiny two-origin Hub on loopback for file probes and installs (the full fake Hub lives in fake_hub.py).

The endpoint origin answers ``/{repo}/resolve/{revision}/{path}`` with a 302 to a second origin (the
storage, another port: another origin) and the Hub's ``X-Repo-Commit`` / ``X-Linked-Etag`` /
``X-Linked-Size`` headers, as huggingface.co does for LFS files; a small non-LFS file is served by the
endpoint itself. ``POST /api/models/{repo}/paths-info/{revision}`` answers as the Hub does. The storage
honours ``Range`` (unless ``ignore_range``). Every request is logged with its headers, and the body
bytes each origin sent are counted.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "hf_test_token_0123456789"


@dataclass
class Logged:
    origin: str  # "endpoint" | "storage"
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class StoredFile:
    data: bytes
    lfs: bool = True

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class MiniHub:
    commit: str = "a" * 40
    files: dict[tuple[str, str], StoredFile] = field(default_factory=dict)  # (repo, path) at ``commit``
    main: dict[tuple[str, str], StoredFile] = field(default_factory=dict)  # newer content at "main", if any
    gated: set[str] = field(default_factory=set)
    ignore_range: bool = False
    html_200: bool = False  # a captive portal / broken mirror: every answer is a web page with status 200
    log: list[Logged] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=lambda: {"endpoint": 0, "storage": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, repo: str, path: str, data: bytes, *, lfs: bool = True) -> StoredFile:
        self.files[(repo, path)] = StoredFile(data, lfs)
        return self.files[(repo, path)]

    def start(self) -> MiniHub:
        self._servers = {name: _serve(self, name) for name in ("endpoint", "storage")}
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def url(self, origin: str) -> str:
        host, port = self._servers[origin].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        return self.url("endpoint")

    def requests_to(self, origin: str) -> list[Logged]:
        with self.lock:
            return [r for r in self.log if r.origin == origin]

    def current(self, repo: str, path: str) -> StoredFile | None:
        return self.main.get((repo, path)) or self.files.get((repo, path))


def _serve(hub: MiniHub, origin: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body are separate writes: without this, Nagle's algorithm and the client's delayed
            # ACK add 40 ms to every small answer, which real Hub servers do not.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._handle()

        def do_POST(self) -> None:  # noqa: N802
            self._handle()

        def _handle(self) -> None:
            with hub.lock:
                hub.log.append(Logged(origin, self.command, self.path, dict(self.headers.items())))
            if hub.html_200:
                return self._send(200, b"<!DOCTYPE html><html><body>Mirror unavailable</body></html>",
                                  {"Content-Type": "text/html; charset=utf-8"})
            if origin == "storage":
                return self._storage()
            path = unquote(urlsplit(self.path).path)
            info = re.match(r"^/api/models/(.+?)/paths-info/([^/]+)$", path)
            if info and self.command == "POST":
                return self._paths_info(info.group(1), info.group(2))
            resolve = re.match(r"^/(.+?/.+?)/resolve/([^/]+)/(.+)$", path)
            if not resolve:
                return self._send(404, b'{"error":"Not found"}', {"Content-Type": "application/json"})
            repo, revision, file_path = resolve.groups()
            if not self._allowed(repo):
                return None
            stored = hub.current(repo, file_path) if revision == "main" else hub.files.get((repo, file_path))
            if stored is None or revision not in ("main", hub.commit):
                return self._send(404, b'{"error":"Entry not found"}', {"Content-Type": "application/json",
                                                                        "X-Error-Code": "EntryNotFound"})
            headers = {"X-Repo-Commit": hub.commit, "X-Linked-Size": str(len(stored.data)),
                       "X-Linked-Etag": f'"{stored.sha256}"', "ETag": f'"{stored.sha256}"'}
            if not stored.lfs:
                return self._body(stored.data, headers)
            key = f"/{stored.sha256}?name={file_path}&sig=signed"
            headers.update({"Location": hub.url("storage") + key, "Content-Length": "0"})
            return self._send(302, b"", headers)

        def _allowed(self, repo: str) -> bool:
            if repo not in hub.gated:
                return True
            auth = self.headers.get("Authorization", "")
            if auth == f"Bearer {TOKEN}":
                return True
            status = 403 if auth else 401
            self._send(status, json.dumps({"error": f"Access to model {repo} is restricted."}).encode(),
                       {"Content-Type": "application/json", "X-Error-Code": "GatedRepo"})
            return False

        def _paths_info(self, repo: str, revision: str) -> None:
            if not self._allowed(repo):
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = parse_qs(raw) if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", "") else {}
            paths = form.get("paths") or (json.loads(raw).get("paths") if raw.startswith("{") else [])
            entries = []
            for p in paths:
                stored = hub.current(repo, p) if revision == "main" else hub.files.get((repo, p))
                if stored is None:
                    continue
                entry = {"type": "file", "path": p, "size": len(stored.data),
                         "oid": hashlib.sha1(stored.data).hexdigest()}
                if stored.lfs:
                    entry["lfs"] = {"oid": stored.sha256, "size": len(stored.data), "pointerSize": 134}
                entries.append(entry)
            self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})

        def _storage(self) -> None:
            sha = urlsplit(self.path).path.strip("/")
            stored = next((f for f in [*hub.files.values(), *hub.main.values()] if f.sha256 == sha), None)
            if stored is None:
                return self._send(404, b"<Error>NoSuchKey</Error>", {"Content-Type": "application/xml"})
            return self._body(stored.data, {"Content-Type": "application/octet-stream"})

        def _body(self, data: bytes, headers: dict[str, str]) -> None:
            headers = {"Accept-Ranges": "bytes", **headers}
            match = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
            if match and not hub.ignore_range:
                start = int(match.group(1))
                end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
                if start >= len(data):
                    return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                return self._send(206, data[start:end + 1], headers)
            return self._send(200, data, headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "HEAD" or not body:
                return
            try:  # a client that has read what it needs closes the connection: count only what went out
                view = memoryview(body)
                for start in range(0, len(body), 64 << 10):
                    self.wfile.write(view[start:start + (64 << 10)])
                    with hub.lock:
                        hub.sent[origin] += min(64 << 10, len(body) - start)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name=f"mini-hub-{origin}").start()
    return server
