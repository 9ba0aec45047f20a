"""Opening a storage response and iterating its body as fast as Python allows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx

from . import messages as msg
from .direct_body import direct_body
from .errors import DownloadError, TransientError


class StreamContext:
    """``client.stream`` with transport errors at open time turned into transient download errors."""

    def __init__(self, http: httpx.Client, url: str, headers: dict, timeout: httpx.Timeout, name: str,
                 source: str = "Civitai") -> None:
        self._cm = http.stream("GET", url, headers=headers, timeout=timeout)
        self.name = name
        self.source = source

    def __enter__(self) -> httpx.Response:
        try:
            return self._cm.__enter__()
        except httpx.TimeoutException:
            raise TransientError(DownloadError(msg.STALLED.format(name=self.name), kind="stalled")) from None
        except httpx.TransportError:
            raise TransientError(DownloadError(msg.CONNECTION_LOST.format(name=self.name, done="0 bytes", total="?"),
                                               kind="connection")) from None
        except httpx.TooManyRedirects:
            # A loop does not heal on the next attempt; Retry (by hand) asks the source for a new URL.
            raise DownloadError(msg.TOO_MANY_REDIRECTS.format(source=self.source, name=self.name), kind="redirects",
                                retryable=True) from None

    def __exit__(self, *exc: object) -> None:
        try:
            self._cm.__exit__(*exc)
        except httpx.TransportError:
            pass


READ_BYTES = 1 << 20
USE_DIRECT_BODY = True  # tests switch it off to cover the plain httpx path too


def enlarge_reads(response: httpx.Response, size: int = READ_BYTES) -> bool:
    """Let this response's connection read 1 MiB per ``recv`` instead of httpcore's 64 KiB.

    With 64 KiB reads the per-read Python overhead halves a loopback stream's throughput. httpcore has
    no public knob, so we set ``READ_NUM_BYTES`` on this one connection object (an instance attribute:
    other connections and other httpx users are unaffected). Best effort: private names may change,
    and then we simply keep the default size.
    """
    obj: Any = response.stream
    for _ in range(8):
        if hasattr(type(obj), "READ_NUM_BYTES"):
            try:
                if getattr(obj, "READ_NUM_BYTES", size) < size:
                    obj.READ_NUM_BYTES = size
                return True
            except (AttributeError, TypeError):
                return False
        obj = next((getattr(obj, name) for name in ("_stream", "_httpcore_stream", "_connection")
                    if hasattr(obj, name)), None)
        if obj is None:
            return False
    return False


def body_chunks(response: httpx.Response, read_timeout: float | None = None) -> Iterator[bytes]:
    if USE_DIRECT_BODY:
        direct = direct_body(response, READ_BYTES, read_timeout)
        if direct is not None:
            return direct
    enlarge_reads(response)
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    # iter_raw skips httpx's decoder layer; only safe when the body is not content-encoded.
    return response.iter_raw() if encoding in ("", "identity") else response.iter_bytes()


def content_length(response: httpx.Response) -> int | None:
    if response.status_code == 206:
        match = re.match(r"bytes\s+\d+-\d+/(\d+)", response.headers.get("Content-Range", ""))
        if match:
            return int(match.group(1))
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def raw_header(response: httpx.Response, name: bytes) -> bytes | None:
    for key, value in response.headers.raw:
        if key.lower() == name:
            return value
    return None
