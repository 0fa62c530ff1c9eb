"""`invoke deploy` as the bench calls it, and wrk load that runs exactly as long as a deploy.

A Deployment is one stack of the run: its name, port, client key file and the environment
`invoke` gets (no GEMINI_* or INVOKE_* of the caller's; the fake upstream pinned). `under_load`
runs a task in a thread while wrk sends closed-loop requests through the published proxy in
short back-to-back runs until the task returns, and adds up every request and failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from gemini_workflow import loadgen
from gemini_workflow.bench.load import JSON, Target, throughput_run
from gemini_workflow.errors import WorkflowError
from gemini_workflow.stack import FAKE_UPSTREAM

TIMEOUT_S: Final = 240
"""Seconds `invoke deploy` waits for the stack to converge (deploy.timeout)."""
LOAD_CONNECTIONS: Final = 8
LOAD_CHUNK_S: Final = 2.0
T = TypeVar("T")


@dataclass(frozen=True)
class Deployment:
    """How this run calls `invoke deploy`: its stack name, port, client keys and environment."""

    stack: str
    port: int
    keys: Path
    root: Path
    images: tuple[str, str]

    def environment(self) -> dict[str, str]:
        drop = ("GEMINI_", "INVOKE_")
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(drop)},
            "INVOKE_DEPLOY_STACK": self.stack,
            "INVOKE_DEPLOY_FAKE_IMAGE": self.images[1],
            "INVOKE_DEPLOY_CLIENT_KEYS": str(self.keys),
            # The fake upstream even where a real key is configured (.env): never real quota.
            "INVOKE_STACK_UPSTREAM": FAKE_UPSTREAM,
            # wrk sends hundreds of requests a second with one key: not what is measured here.
            "INVOKE_DEPLOY_CLIENT_RATE": "100000r/s",
            "INVOKE_DEPLOY_CLIENT_BURST": "100000",
            "INVOKE_DEPLOY_TIMEOUT": str(TIMEOUT_S),
            "COLUMNS": "200",
        }

    def invoke(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        """Run one `invoke` task; its wall time and what it printed."""
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S + 120,
            check=False,
        )
        return time.perf_counter() - started, done

    def target(self) -> Target:
        key = self.keys.read_text().split()[0]
        body = '{"prompt": "load during a deploy"}'
        return Target(f"http://127.0.0.1:{self.port}", "/generate", body, {**JSON, **bearer(key)})

    def down(self) -> None:
        _, done = self.invoke("deploy.down", "--leave")
        if done.returncode != 0:
            raise WorkflowError(f"`invoke deploy.down --leave` failed: {tail(done)}")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def tail(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stdout + done.stderr).strip()[-1500:]


@dataclass(frozen=True)
class Totals:
    """Requests sent while a task ran, and how many did not get a 2xx (or any answer)."""

    requests: int
    failed: int
    statuses: dict[int, int]


def add(totals: Totals, result: loadgen.LoadResult) -> Totals:
    statuses = dict(totals.statuses)
    for code, count in result.statuses.items():
        statuses[code] = statuses.get(code, 0) + count
    failed = result.requests - result.ok + result.socket_errors
    return Totals(totals.requests + result.requests, totals.failed + failed, statuses)


def under_load(target: Target, task: Callable[[], T]) -> tuple[T, Totals]:
    """Run `task` in a thread while wrk loads `target`, until the task returns.

    wrk runs in LOAD_CHUNK_S pieces, back to back, so the load ends with the task (at most one
    piece later) instead of after a guessed duration.
    """
    outcome: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(task())
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    thread = threading.Thread(target=work, daemon=True)
    totals = Totals(0, 0, {})
    thread.start()
    while True:  # at least one piece: the load covers the whole task, however short
        result = throughput_run(target, LOAD_CHUNK_S, LOAD_CONNECTIONS)
        totals = add(totals, result)
        if not thread.is_alive():
            break
    thread.join()
    if errors:
        raise errors[0]
    return outcome[0], totals
