"""The HTTP plumbing both fake services share (``fake_hub``, ``fake_civitai``): two loopback listeners, an
API origin and a storage origin on ephemeral ports, every request recorded with its headers, and the body
bytes each listener sent counted.

A fake subclasses ``TwoOrigins`` (giving ``handler``, its ``BaseHandler`` subclass); its handlers reach it
as ``self.owner`` and answer with ``send_body``.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LISTENERS = ("api", "storage")
_CHUNK = 64 << 10  # what a client that hangs up early is counted as having been sent, at the most


@dataclass
class RecordedRequest:
    listener: str  # "api" | "storage"
    method: str
    path: str
    query: dict
    headers: dict


class Switches:
    """A dataclass of fault switches that can be put back to their defaults."""

    def reset(self) -> None:
        defaults = type(self)()
        for f in fields(self):  # type: ignore[arg-type]
            setattr(self, f.name, getattr(defaults, f.name))


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung handler must never block shutdown
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, owner: TwoOrigins, listener: str) -> None:
        super().__init__(("127.0.0.1", 0), owner.handler)
        self.owner = owner
        self.listener = listener


class BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without this, Nagle's algorithm and the client's delayed ACK
        # add 40 ms to every small answer, which real servers do not.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        try:  # a client that hung up (a probe that read its header, a test that gave up) is no server error
            super().handle_one_request()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    @property
    def owner(self) -> TwoOrigins:
        return self.server.owner

    @property
    def origin(self) -> str:
        """This request's origin as the client named it (a mirror's name works)."""
        return f"http://{self.headers.get('Host') or self.owner.url.split('://', 1)[1]}"

    def record_request(self) -> tuple[str, dict]:
        """Record this request; returns (the unquoted path, the query as ``parse_qs`` lists)."""
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)
        self.owner.record(RecordedRequest(self.server.listener, self.command, path, query, dict(self.headers.items())))
        return path, query

    def send_body(self, status: int, body: bytes = b"", content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.write_counted(body)

    def write_counted(self, body: bytes) -> None:
        """Write ``body`` in chunks; a client that has read what it needs hangs up: count only what went out."""
        view = memoryview(body)
        try:
            for start in range(0, len(body), _CHUNK):
                piece = view[start:start + _CHUNK]
                self.wfile.write(piece)
                self.owner.count_sent(self.server.listener, len(piece))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        raise NotImplementedError


class TwoOrigins:
    """Start/stop of the two listeners, the request record and the byte counters."""

    handler: type[BaseHandler]

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.sent = dict.fromkeys(LISTENERS, 0)  # body bytes each listener wrote
        self.lock = threading.Lock()
        self._servers: list[LoopbackServer] = []
        self.url = ""
        self.storage_url = ""

    def start(self):  # noqa: ANN201 - returns the subclass
        self._servers = [LoopbackServer(self, name) for name in LISTENERS]
        for srv in self._servers:
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                             name=f"{type(self).__name__}-{srv.listener}").start()
        self.url, self.storage_url = (f"http://127.0.0.1:{srv.server_address[1]}" for srv in self._servers)
        return self

    @property
    def port(self) -> int:
        return self._servers[0].server_address[1]

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers = []

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def requests_to(self, listener: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.listener == listener]

    def count_sent(self, listener: str, n: int) -> None:
        with self.lock:
            self.sent[listener] += n
