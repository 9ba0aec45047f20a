"""Say why Civitai could not be reached, in a sentence, and whether waiting could help.

A refused connection, a name that does not resolve or a machine without a network will not heal in
the next 15 seconds, so the client fails at once on them; timeouts and connections that break
half-way are retried with backoff. The sentences never name Python or httpx classes.
"""

from __future__ import annotations

import errno
import socket
from types import ModuleType

import httpx

from . import messages as m

# Words the operating systems use (Linux, macOS, Windows) when the failure is of that kind.
_DNS_WORDS = ("name or service not known", "temporary failure in name resolution", "nodename nor servname",
              "getaddrinfo failed", "no address associated", "name resolution", "11001", "11002")
_REFUSED_WORDS = ("connection refused", "actively refused", "10061")
_OFFLINE_WORDS = ("network is unreachable", "no route to host", "host is unreachable", "10051", "10065")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def unreachable_template(exc: BaseException, sentences: ModuleType = m) -> str:
    """The sentence (with a ``{host}`` field) for a failed connection attempt (``httpx.ConnectError`` or
    ``httpx.ProxyError``), from ``sentences``: a messages module with the ``UNREACHABLE*`` names (Civitai's
    by default; the Hub client passes its own, so that the sentence names the right service)."""
    if isinstance(exc, httpx.ProxyError):
        return sentences.UNREACHABLE_PROXY
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, socket.gaierror) for e in chain) or any(w in text for w in _DNS_WORDS):
        return sentences.UNREACHABLE_DNS
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or any(w in text for w in _REFUSED_WORDS):
        return sentences.UNREACHABLE_REFUSED
    codes = {getattr(e, "errno", None) for e in chain}
    if codes & {errno.ENETUNREACH, errno.EHOSTUNREACH} or any(w in text for w in _OFFLINE_WORDS):
        return sentences.UNREACHABLE_OFFLINE
    return sentences.UNREACHABLE


def unreachable_message(exc: BaseException, host: str | None, sentences: ModuleType = m) -> str:
    """The sentence for a failed connection attempt, naming ``host``."""
    return unreachable_template(exc, sentences).format(host=host or "?")


def heals_by_waiting(exc: httpx.TransportError) -> bool:
    """False for failures to connect at all (no retry); True for timeouts and connections broken mid-way."""
    if isinstance(exc, httpx.TimeoutException):
        return True
    return not isinstance(exc, (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol))
