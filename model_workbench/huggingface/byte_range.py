"""Reading a byte range of a Hub file: the one place that asks with ``Range`` and reads the answer, whether the
server honoured it (206) or ignored it (200 with the whole file: read only as far as needed, the rest never
fetched). ``HubClient.fetch_range`` and the header probe both read through here."""

from __future__ import annotations

import httpx


def range_headers(start: int, end: int) -> dict[str, str]:
    """Bytes ``start``..``end`` (inclusive), uncompressed: a range of a gzip body would be a range of other bytes."""
    return {"Range": f"bytes={start}-{end}", "Accept": "*/*", "Accept-Encoding": "identity"}


class BodyReader:
    """Reads a streamed body a few bytes at a time and stops there: the rest is never fetched."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.iter_bytes()  # works on a read response too (a mock, a test)
        self._carry = b""

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only when the body ends first)."""
        out = [self._carry[:size]]
        got = len(out[0])
        self._carry = self._carry[size:]
        while got < size:
            try:
                chunk = next(self._chunks)
            except (StopIteration, httpx.TransportError):
                break
            out.append(chunk[: size - got])
            self._carry = chunk[size - got:]
            got += len(out[-1])
        return b"".join(out)


def range_body(response: httpx.Response, start: int, length: int) -> bytes:
    """The ``length`` bytes from ``start`` that a streamed answer to ``range_headers(start, …)`` holds (fewer at
    the end of the file): a 206's first bytes, or a 200's bytes ``start``.. read no further than that."""
    if response.status_code == 206:
        return BodyReader(response).read(length)
    return BodyReader(response).read(start + length)[start:]
