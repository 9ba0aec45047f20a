"""One object per host, made on first use and shared by the tab and the HTTP API.

Keyed weakly: a host that is gone (a test's, a reloaded WebUI's) takes its service with it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PerHost(Generic[T]):
    """``PerHost(make)(host)`` is ``make(host)`` the first time, the same object afterwards."""

    def __init__(self, make: Callable[[Any], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, host: Any) -> T:
        with self._lock:
            made = self._made.get(host)
            if made is None:
                made = self._make(host)
                self._made[host] = made
            return made
