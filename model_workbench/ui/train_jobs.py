"""Run slow work in a thread while a gradio generator handler yields its progress.

gradio (3.41 and 4, queue on) streams each ``yield`` of a handler to the page; the work itself runs
in a thread so the handler can report every half second without the work knowing about gradio.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any


class Job:
    """``fn(report)`` in a daemon thread; ``report(done, total, label)`` records the progress."""

    def __init__(self, fn: Callable[[Callable[[int, int, str], None]], Any]) -> None:
        self.done, self.total, self.label = 0, 0, ""
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True, name="model-workbench-job")
        self._thread.start()

    def report(self, done: int, total: int, label: str) -> None:
        self.done, self.total, self.label = done, total, label

    def _run(self, fn: Callable[[Callable[[int, int, str], None]], Any]) -> None:
        try:
            self.result = fn(self.report)
        except BaseException as exc:  # handed to the handler, which shows it as a sentence
            self.error = exc

    def poll(self, interval: float = 0.5) -> Iterator[Job]:
        """Yield this job every ``interval`` seconds while it runs."""
        while self._thread.is_alive():
            self._thread.join(interval)
            if self._thread.is_alive():
                yield self
