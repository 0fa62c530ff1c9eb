"""Issue 11 goal 2 for both SDK adapters: the service as a host process, against the stack's fake.

The legacy adapter (`GEMINI_SDK=legacy`) needs google-generativeai, which the image does not
contain, so both adapters run as `python -m gemini_service` on the host (the command the
image runs) against the containerised fake at FAKE_LATENCY_MS: like for like. Part of the
`service` section, which owns the stack and calls `measure` while the fake answers slowly.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Final

from gemini_workflow.bench import procs
from gemini_workflow.bench.load import (
    BENCH_KEY,
    app_target,
    check,
    latency_run,
    ok_rate,
    throughput_figure,
    throughput_run,
)
from gemini_workflow.bench.report import Report, Stats
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.ports import free_port

SDKS: Final = ("genai", "legacy")
STARTUP_TIMEOUT: Final = 60


@contextlib.contextmanager
def host_app(run: BenchRun, fake: str, sdk: str) -> Iterator[procs.HostProcess]:
    """The service as a host process on a free port, once it serves; stopped after the block.

    Its settings are the defaults plus these: procs keeps the caller's GEMINI_* (a real key,
    other timeouts) away from it.
    """
    port = free_port()
    env = {
        "GEMINI_API_KEY": BENCH_KEY,
        "GEMINI_API_ENDPOINT": fake,
        "GEMINI_SDK": sdk,
        "LOG_LEVEL": "INFO",
        "PORT": str(port),
    }
    server = procs.start(run, f"host-{sdk}", [sys.executable, "-m", "gemini_service"], env, port)
    with procs.serving([server]):
        procs.wait_health(server, timeout=STARTUP_TIMEOUT, interval=0.05)
        yield server


def throughput(
    run: BenchRun, fake: str, report: Report
) -> dict[str, tuple[list[float], list[float]]]:
    """2xx/s and peak RSS of each adapter, CONCURRENCY clients, `runs` runs each."""
    results: dict[str, tuple[list[float], list[float]]] = {}
    runs = run.options.runs
    for sdk in SDKS:
        rates: list[float] = []
        peaks: list[float] = []
        with host_app(run, fake, sdk) as server:
            target = app_target(server.url)
            latency_run(target, 1)  # warm-up
            for n in range(runs):
                run.console.print(f"throughput, host app GEMINI_SDK={sdk}, run {n + 1}/{runs}")
                result = throughput_run(target, run.options.load_seconds)
                check(result, f"throughput host {sdk}", report)
                rates.append(ok_rate(result))
                peaks.append(procs.memory_mb(server.pid, "VmHWM"))  # the kernel's own peak
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
