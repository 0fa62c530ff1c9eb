"""Stop signals and the watch child of `invoke dev`, with small Python scripts as compose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gemini_workflow import dev_watch
from gemini_workflow.compose import ComposeProject
from gemini_workflow.wait import WaitTimeout


def test_a_signal_is_recorded_and_the_previous_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with dev_watch.stop_on_signals() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # a second one does not replace the first
        time.sleep(0.05)
        assert stop.signal == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_child_that_ignores_sigint_is_killed() -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(2, 1); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # its handler is in place
    started = time.monotonic()
    assert dev_watch.end_process(stubborn, timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 10


def watch_running(
    monkeypatch: pytest.MonkeyPatch, root: Path, script: str, lines: list[str] | None = None
) -> dev_watch.Watch:
    """A Watch whose `docker compose watch` is `script`; its echoed lines go to `lines`."""
    monkeypatch.setattr(
        ComposeProject, "command", lambda self, *args: [sys.executable, "-c", script]
    )
    echoed = lines if lines is not None else []
    return dev_watch.Watch(ComposeProject("p1", root=root), echo=echoed.append)


def test_the_watch_is_ready_once_compose_says_so_and_its_lines_are_clean_text(
    monkeypatch: pytest.MonkeyPatch, root: Path
) -> None:
    lines: list[str] = []
    script = (
        "import sys, time; print('Syncing'); print();"
        " sys.stdout.write('\\x02\\x00\\x00rm: denied\\n'); print('Watch enabled', flush=True);"
        " time.sleep(60)"
    )
    watch = watch_running(monkeypatch, root, script, lines)
    try:
        assert watch.wait_enabled(dev_watch.StopRequest(), timeout=20)
    finally:
        watch.stop()
    assert lines[:3] == ["Syncing", "rm: denied", "Watch enabled"]  # then its Ctrl-C traceback


def test_a_stop_before_the_watch_runs_ends_the_wait_without_error(
    monkeypatch: pytest.MonkeyPatch, root: Path
) -> None:
    watch = watch_running(monkeypatch, root, "import time; time.sleep(60)")
    stop = dev_watch.StopRequest()
    stop.handle(signal.SIGINT, None)
    try:
        assert watch.wait_enabled(stop, timeout=20) is False
    finally:
        watch.stop()


def test_a_watch_that_never_starts_is_a_timeout_naming_it(
    monkeypatch: pytest.MonkeyPatch, root: Path
) -> None:
    watch = watch_running(monkeypatch, root, "import time; time.sleep(60)")
    try:
        with pytest.raises(WaitTimeout, match="docker compose watch to start"):
            watch.wait_enabled(dev_watch.StopRequest(), timeout=0.5)
    finally:
        watch.stop()


def test_serving_ticks_until_the_stop(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    watch = watch_running(monkeypatch, root, "import time; time.sleep(60)")
    stop = dev_watch.StopRequest()
    ticks: list[int] = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 3:
            stop.handle(signal.SIGTERM, None)

    try:
        watch.serve_until(stop, tick=tick)
    finally:
        watch.stop()
    assert len(ticks) == 3
