"""Figure 7 for both SDK adapters: the service as a host process, against the stack's fake.

The legacy adapter (`GEMINI_SDK=legacy`) needs google-generativeai, which the image does not
contain, so both adapters run as `python -m gemini_service` on the host (the command the
image runs) against the containerised fake at FAKE_LATENCY_MS: like for like. Part of the
`service` section, which owns the stack and calls `measure` while the fake answers slowly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Final

from gemini_workflow import wait
from gemini_workflow.bench.load import (
    BENCH_KEY,
    app_target,
    check,
    latency_run,
    ok_rate,
    peak_rss,
    process_rss,
    throughput_figure,
    throughput_run,
)
from gemini_workflow.bench.report import MB, Report, Stats
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port

SDKS: Final = ("genai", "legacy")
STARTUP_TIMEOUT: Final = 60


@contextlib.contextmanager
def host_app(fake: str, sdk: str) -> Iterator[tuple[str, int]]:
    """The service as a host process on a free port; yields its URL and pid once it serves.

    Its settings are the defaults plus these: no GEMINI_* from the caller's shell (a real key
    or other timeouts) reaches it.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEMINI_")}
    env |= {
        "GEMINI_API_KEY": BENCH_KEY,
        "GEMINI_API_ENDPOINT": fake,
        "GEMINI_SDK": sdk,
        "LOG_LEVEL": "INFO",
        "PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gemini_service"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(),
        )
        try:
            wait_serving(process, f"{url}/health", log)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_serving(process: subprocess.Popen[bytes], health: str, log: IO[bytes]) -> None:
    """Until `health` answers 200; fails at once if the process exits, with its output."""

    def serving() -> bool:
        if process.poll() is not None:
            raise WorkflowError(f"the process exited with {process.returncode}")
        return wait.http_status(health) == 200

    try:
        wait.until(serving, timeout=STARTUP_TIMEOUT, interval=0.05, what=f"a 200 from {health}")
    except WorkflowError as exc:
        log.seek(0)
        output = log.read().decode("utf-8", "replace").strip()[-2000:]
        raise WorkflowError(f"the service on the host did not start: {exc}\n{output}") from None


def throughput(
    run: BenchRun, fake: str, report: Report
) -> dict[str, tuple[list[float], list[float]]]:
    """2xx/s and peak RSS of each adapter, CONCURRENCY clients, `runs` runs each."""
    results: dict[str, tuple[list[float], list[float]]] = {}
    runs = run.options.runs
    for sdk in SDKS:
        rates: list[float] = []
        peaks: list[float] = []
        with host_app(fake, sdk) as (url, pid):
            target = app_target(url)
            latency_run(target, 1)  # warm-up
            for n in range(runs):
                run.console.print(f"throughput, host app GEMINI_SDK={sdk}, run {n + 1}/{runs}")
                with peak_rss(functools.partial(process_rss, pid)) as peak:
                    result = throughput_run(target, run.options.load_seconds)
                check(result, f"throughput host {sdk}", report)
                rates.append(ok_rate(result))
                peaks.append(peak[0] / MB)
        results[sdk] = (rates, peaks)
    return results


def add_figures(report: Report, results: dict[str, tuple[list[float], list[float]]]) -> None:
    for sdk, (rates, peaks) in results.items():
        note = f"peak RSS {Stats.of(peaks).median:.0f} MB"
        label = f"app on host, GEMINI_SDK={sdk}"
        report.add(throughput_figure(f"throughput_host_{sdk}", label, rates, 0.85, note))


def measure(run: BenchRun, report: Report, fake: str) -> None:
    """Both adapters on the host against the fake at `fake` (answering slowly)."""
    add_figures(report, throughput(run, fake, report))
