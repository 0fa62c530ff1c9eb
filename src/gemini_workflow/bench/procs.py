"""Host processes the bench starts (the service, its references, a fake), and what they cost.

CPU and memory come from /proc, summed over the process and its descendants: uvicorn with two
workers is a manager and two children, and a figure must count all three. A process is
started through the run, so a section that breaks still leaves no process behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gemini_workflow import probe, wait
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.errors import WorkflowError

TICKS: Final = os.sysconf("SC_CLK_TCK")
STOP_GRACE: Final = 10.0
NOT_YET: Final = (OSError, http.client.HTTPException, probe.ProbeError)
"""What a server that is still starting answers with: no listener, a reset, a broken reply."""


@dataclass(frozen=True)
class HostProcess:
    """A started server: its process, where it listens, its log, and how to stop it now."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    started: float
    stop: Callable[[], None] = field(repr=False)
    """Stop it now: SIGTERM, then SIGKILL after a grace; the run's close then has nothing to do."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        if self.process.poll() is None:
            return True
        tail = self.log.read_text(errors="replace").strip()[-1500:]
        raise WorkflowError(f"{self.name} exited with {self.process.returncode}:\n{tail}")


def clean_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without GEMINI_* (no real key, no other timeouts) plus `env`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "FAKE_GEMINI_"))}
    return {**kept, **env}


def start(
    run: BenchRun, name: str, argv: Sequence[str], env: Mapping[str, str], port: int
) -> HostProcess:
    """Start `argv` in the scratch directory, its output in a log there; stopped on close."""
    log = run.workdir / f"{name}-{port}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            env=clean_environment(env),
            cwd=run.workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    stopper = run.defer(f"process {name} ({process.pid})", lambda: terminate(process))
    return HostProcess(name, process, f"http://127.0.0.1:{port}", log, started, stopper)


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a grace period, then SIGKILL; always reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serving(servers: Sequence[HostProcess]) -> Iterator[Sequence[HostProcess]]:
    """The servers for the block; stopped when it ends, whatever happened."""
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def wait_health(server: HostProcess, *, timeout: float = 60.0, interval: float = 0.01) -> float:
    """Seconds from the start of the process to its first 200 on /health."""
    wait.until(
        lambda: server.alive() and wait.http_status(f"{server.url}/health") == 200,
        timeout=timeout,
        interval=interval,
        what=f"a 200 from {server.name}'s /health",
        retry_on=NOT_YET,
    )
    return time.perf_counter() - server.started


def wait_generate(server: HostProcess, *, timeout: float = 60.0, interval: float = 0.01) -> float:
    """Seconds from the start of the process to its first 200 on /generate."""
    wait.until(
        lambda: server.alive() and probe.ask(server.url, "bench", timeout=5).status == 200,
        timeout=timeout,
        interval=interval,
        what=f"a 200 from {server.name}'s /generate",
        retry_on=NOT_YET,
    )
    return time.perf_counter() - server.started


# ------------------------------------------------------------------------------ /proc


def tree_pids(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn's workers are children of the manager)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
    return found


def stat_cpu_seconds(stat: str) -> float:
    """user + system seconds from the text of /proc/PID/stat (fields 14 and 15).

    The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    """
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    """user + system CPU of the process tree so far."""
    total = 0.0
    for each in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError):
            total += stat_cpu_seconds(Path(f"/proc/{each}/stat").read_text())
    return total


def status_kb(status: str, key: str) -> int:
    """One `Key:   N kB` line of /proc/PID/status, in kB (0 when absent)."""
    for line in status.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (the peak so far) of the process tree, in MB (10^6 bytes)."""
    total = 0
    for each in tree_pids(pid):
        with contextlib.suppress(OSError):
            total += status_kb(Path(f"/proc/{each}/status").read_text(), key)
    return total * 1024 / 1_000_000
