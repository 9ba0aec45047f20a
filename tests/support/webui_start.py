"""Wait for a WebUI being started to say it is ready, before sending it anything.

WebUI 1.10.1 adds its middleware while it starts; a request arriving then can make it die with
"Cannot add middleware after an application has started". So the webui tier first waits for the
"Startup time" line that WebUI prints once the app, its API and the extensions' routes are set up,
and only then talks to it over HTTP.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

STARTUP_LINE = "Startup time"
LOG_TAIL_CHARS = 5000


class WebuiDidNotStart(RuntimeError):
    """WebUI exited or ran past the deadline before it was ready; the message ends with its log's tail."""


def read_log(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")
    except OSError:
        return ""


def log_tail(log_path: Path) -> str:
    return read_log(log_path)[-LOG_TAIL_CHARS:] or "(the log is empty)"


def wait_until_started(process: subprocess.Popen, log_path: Path, deadline: float,
                       ready: Callable[[], bool] = lambda: True, poll_s: float = 0.5,
                       clock: Callable[[], float] = time.monotonic) -> None:
    """Return once the log has the start-up line and then ``ready()`` holds, both before ``deadline``
    (a ``clock()`` value). ``ready`` is not called before the line is there."""
    started = False
    while True:
        if process.poll() is not None:
            raise WebuiDidNotStart(f"WebUI exited with code {process.returncode} while starting:\n{log_tail(log_path)}")
        if not started:
            started = STARTUP_LINE in read_log(log_path)
        if started and ready():
            return
        if clock() >= deadline:
            where = "was not ready" if started else f"printed no \"{STARTUP_LINE}\" line"
            raise WebuiDidNotStart(f"WebUI {where} in time:\n{log_tail(log_path)}")
        time.sleep(poll_s)
