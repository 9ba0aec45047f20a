"""Write-behind stages for a download stream: the socket is read on one thread while blocks are
written (and hashed) on others; ``os.pwrite`` and ``hashlib`` release the GIL, so they overlap."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class Pipeline:
    """One thread per stage; each stage gets every ``(offset, data)`` block in order. The first error stops all."""

    def __init__(self, stages: list[Callable[[int, bytes], None]], depth: int = 8) -> None:
        self.error: BaseException | None = None
        self._queues: list[queue.Queue[tuple[int, bytes] | None]] = [queue.Queue(maxsize=depth) for _ in stages]
        self._threads = [threading.Thread(target=self._run, args=(stage, q), daemon=True, name="mw-write")
                         for stage, q in zip(stages, self._queues, strict=True)]
        for t in self._threads:
            t.start()

    def _run(self, stage: Callable[[int, bytes], None], q: queue.Queue) -> None:
        while True:
            item = q.get()
            if item is None:
                return
            if self.error is None:
                try:
                    stage(*item)
                except BaseException as exc:  # noqa: BLE001 - handed back to the reading thread
                    self.error = exc

    def put(self, offset: int, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        for q in self._queues:
            q.put((offset, data))

    def close(self) -> BaseException | None:
        """Wait until every queued block went through every stage; return the first error, if any."""
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join()
        return self.error
