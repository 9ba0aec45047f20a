"""SHA256 of a file that is being written, possibly out of order (segmented downloads).

Bytes that arrive at the hash position are hashed on the spot (the single-stream case: no
second pass). Bytes written further ahead are remembered as ranges and hashed, by reading them
back from the page cache, as soon as the hash position reaches them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

READ_BLOCK = 4 << 20


class OrderedHasher:
    def __init__(self, read_at: Callable[[int, int], bytes]) -> None:
        self._read_at = read_at
        self._sha = hashlib.sha256()
        self._lock = threading.Lock()
        self.position = 0
        self._ahead: list[list[int]] = []  # sorted, merged [start, end) ranges written but not hashed yet

    def feed(self, offset: int, data: bytes | memoryview) -> None:
        """``data`` was just written at ``offset``."""
        with self._lock:
            if offset == self.position:
                self._sha.update(data)
                self.position += len(data)
            elif offset > self.position:
                self._add_range(offset, offset + len(data))
            else:  # rewritten bytes before the hash position: only the tail (if any) is new
                tail = offset + len(data) - self.position
                if tail > 0:
                    self._sha.update(memoryview(data)[len(data) - tail:])
                    self.position += tail
            self._catch_up()

    def mark_written(self, start: int, end: int) -> None:
        """Bytes already on disk (resume): hash them once, now or when the position gets there."""
        if end > start:
            with self._lock:
                self._add_range(start, end)
                self._catch_up()

    def hexdigest(self) -> str:
        with self._lock:
            return self._sha.hexdigest().upper()

    def _add_range(self, start: int, end: int) -> None:
        self._ahead.append([start, end])
        self._ahead.sort()
        merged: list[list[int]] = []
        for r in self._ahead:
            if merged and r[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(r)
        self._ahead = merged

    def _catch_up(self) -> None:
        while self._ahead and self._ahead[0][0] <= self.position:
            end = self._ahead[0][1]
            while self.position < end:
                block = self._read_at(self.position, min(READ_BLOCK, end - self.position))
                if not block:
                    raise OSError("the partial file is shorter than its recorded progress")
                self._sha.update(block)
                self.position += len(block)
            self._ahead.pop(0)
