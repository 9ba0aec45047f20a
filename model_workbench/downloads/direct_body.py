"""Read a large response body straight from httpx's connection, skipping h11's per-chunk copies.

httpx (through httpcore and h11) copies every body chunk three times in Python and reads 64 KiB at
a time; for multi-GB model files on a fast link that costs half the throughput. Once httpx has
parsed the status and headers, the rest of a ``Content-Length`` body is plain bytes on the socket,
so we read them from httpcore's network stream ourselves (TLS and proxy tunnels included: that
stream is whatever httpcore set up). The connection is then closed, never reused, because h11 did
not see the body. Everything here is best effort on private names: when anything is not as
expected, ``direct_body`` returns None and the caller uses ``response.iter_raw()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx


def _connection_of(response: httpx.Response) -> Any:
    obj: Any = response.stream
    for _ in range(8):
        if hasattr(obj, "_h11_state") and hasattr(obj, "_network_stream"):
            return obj
        obj = next((getattr(obj, name) for name in ("_stream", "_httpcore_stream", "_connection")
                    if hasattr(obj, name)), None)
        if obj is None:
            return None
    return None


def direct_body(response: httpx.Response, read_size: int, timeout: float | None) -> Iterator[bytes] | None:
    """An iterator over the body read directly from the socket, or None when that is not safe."""
    headers = response.headers
    if headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return None
    length_text = headers.get("Content-Length", "")
    if not length_text.isdigit():
        return None
    length = int(length_text)
    try:
        import h11

        connection = _connection_of(response)
        if connection is None:
            return None
        state = connection._h11_state
        stream = connection._network_stream
        if state.their_state is not h11.SEND_BODY or not callable(getattr(stream, "read", None)):
            return None
        buffered, _closed = state.trailing_data
    except Exception:  # noqa: BLE001 - any surprise in private internals: use the normal path
        return None
    if len(buffered) > length:
        return None
    return _read(stream, bytes(buffered), length, read_size, timeout, response.request)


def _read(stream: Any, buffered: bytes, length: int, read_size: int, timeout: float | None,
          request: httpx.Request) -> Iterator[bytes]:
    import httpcore

    if buffered:
        yield buffered
    left = length - len(buffered)
    while left > 0:
        try:
            data = stream.read(min(read_size, left), timeout)
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from None
        except (httpcore.NetworkError, OSError) as exc:
            raise httpx.ReadError(str(exc) or "read failed", request=request) from None
        if not data:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body",
                                            request=request)
        left -= len(data)
        yield data

