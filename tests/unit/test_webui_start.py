"""The webui tier's start-up wait: no request before WebUI's "Startup time" line; exits and time-outs
fail with the log's tail."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from tests.support.webui_start import WebuiDidNotStart, wait_until_started


def fake_webui(log_path, script: str) -> subprocess.Popen:
    """A process that writes its output to ``log_path`` the way the fixture's WebUI does."""
    code = "import sys, time\n" + textwrap.dedent(script)
    with open(log_path, "wb") as log:  # the child writes through its own copy of the handle
        return subprocess.Popen([sys.executable, "-u", "-c", code], stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def test_no_request_before_the_startup_line(tmp_path):
    log = tmp_path / "webui.log"
    process = fake_webui(log, """
        print("Loading weights"); time.sleep(1.5)
        print("Startup time: 9.1s (prepare environment: 1.0s)."); time.sleep(60)
    """)
    asked = []

    def ready() -> bool:
        asked.append(log.read_text())
        return True

    try:
        wait_until_started(process, log, deadline=time.monotonic() + 30, ready=ready, poll_s=0.1)
    finally:
        stop(process)
    assert asked and all("Startup time" in text for text in asked)


def test_waits_for_ready_after_the_line_too(tmp_path):
    log = tmp_path / "webui.log"
    process = fake_webui(log, 'print("Startup time: 1s."); time.sleep(60)')
    answers = iter([False, False, True])
    try:
        wait_until_started(process, log, deadline=time.monotonic() + 30, ready=lambda: next(answers), poll_s=0.05)
    finally:
        stop(process)
    assert next(answers, "all used") == "all used"


def test_a_webui_that_exits_while_starting_fails_with_its_log(tmp_path):
    log = tmp_path / "webui.log"
    process = fake_webui(log, """
        print("RuntimeError: Cannot add middleware after an application has started"); sys.exit(1)
    """)
    with pytest.raises(WebuiDidNotStart, match="(?s)exited with code 1.*Cannot add middleware"):
        wait_until_started(process, log, deadline=time.monotonic() + 30, poll_s=0.1)


def test_the_deadline_holds_without_the_line(tmp_path):
    log = tmp_path / "webui.log"
    process = fake_webui(log, 'print("still loading"); time.sleep(60)')
    started = time.monotonic()
    try:
        with pytest.raises(WebuiDidNotStart, match="(?s)no \"Startup time\" line.*still loading"):
            wait_until_started(process, log, deadline=time.monotonic() + 1, ready=lambda: pytest.fail("asked"),
                               poll_s=0.1)
    finally:
        stop(process)
    assert time.monotonic() - started < 10
