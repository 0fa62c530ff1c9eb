"""The two moving parts of `invoke dev` that are not compose: stop signals and child processes.

A signal only records that a stop was asked for, so no step (a `compose up`, a `down`) is cut
in half; the loop looks at the record between steps. `docker compose watch` runs as a child
whose output is echoed line by line and whose start ("Watch enabled") is noticed, because an
edit saved before the watcher runs would never be synced.
"""

from __future__ import annotations

import collections
import contextlib
import math
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Final

from gemini_workflow import wait
from gemini_workflow.compose import ComposeProject
from gemini_workflow.errors import WorkflowError

WATCH_ENABLED: Final = "Watch enabled"
"""What `docker compose watch` prints once its watcher runs (after the initial sync)."""
WATCH_START_TIMEOUT: Final = 60.0
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
CHILD_STOP_TIMEOUT: Final = 10.0
CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""compose passes an exec's raw stream headers through (its `rm` on a deletion): not text."""


class WatchStopped(WorkflowError):
    """`docker compose watch` ended on its own; the message carries its last lines."""


class StopRequest:
    """Records the first SIGINT/SIGTERM; the loop checks it instead of being torn apart.

    A handler that only records keeps every step atomic: a signal during `compose up`,
    `down` or a restart never leaves that command half done, and cleanup always runs.
    """

    def __init__(self) -> None:
        self.signal: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum


@contextlib.contextmanager
def stop_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopRequest]:
    """Catch `signals` for the block (the previous handlers come back after it)."""
    request = StopRequest()
    previous = {number: signal.signal(number, request.handle) for number in signals}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def end_process(process: subprocess.Popen[str], timeout: float = CHILD_STOP_TIMEOUT) -> int:
    """SIGINT, as Ctrl-C would (the docker CLI hands it to compose), then SIGKILL if needed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


class Watch:
    """`docker compose watch --no-up` as a child: its lines echoed, its start noticed."""

    def __init__(self, project: ComposeProject, echo: Callable[[str], None]) -> None:
        self.process = project.spawn(
            "watch", "--no-up", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1
        )
        self.enabled = threading.Event()
        self.tail: collections.deque[str] = collections.deque(maxlen=12)
        self._echo = echo
        self._reader = threading.Thread(target=self._read, name="compose-watch", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.process.stdout or ():
            line = CONTROL.sub("", raw).rstrip()
            if not line:
                continue
            self.tail.append(line)
            self._echo(line)
            if WATCH_ENABLED in line:
                self.enabled.set()

    def failure(self) -> str:
        self._reader.join(timeout=2)  # the last lines compose wrote before it exited
        said = "\n".join(f"  {line}" for line in self.tail) or "  (no output)"
        return f"docker compose watch stopped (exit {self.process.returncode}):\n{said}"

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise WatchStopped(self.failure())

    def wait_enabled(self, stop: StopRequest, timeout: float = WATCH_START_TIMEOUT) -> bool:
        """True once the watch runs; False if a stop was asked for first."""

        def ready() -> bool:
            if stop.requested:  # first: Ctrl-C in a terminal ends compose too
                return True
            self.check_running()
            return self.enabled.is_set()

        wait.until(ready, timeout=timeout, interval=0.1, what="docker compose watch to start")
        return not stop.requested

    def serve_until(self, stop: StopRequest, tick: Callable[[], None] = lambda: None) -> None:
        """Block until a stop is asked for, calling `tick` between checks; WatchStopped if
        the watch ends on its own first."""

        def stopped() -> bool:
            if stop.requested:  # first: Ctrl-C in a terminal ends compose too
                return True
            self.check_running()
            tick()
            return False

        wait.until(stopped, timeout=math.inf, interval=0.2, what="a stop signal")

    def stop(self) -> int:
        return end_process(self.process)
