"""Load with wrk (loadgen.py) against one endpoint, and memory sampled while it runs.

A latency run is one connection sending one request at a time: the time of a request with
no queueing. A throughput run is CONCURRENCY closed-loop clients: against an upstream that
answers in FAKE_LATENCY_MS, at most CONCURRENCY * 1000 / FAKE_LATENCY_MS answers a second.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gemini_workflow import loadgen
from gemini_workflow.bench.report import Figure, Report, Stats, at_least_share, figure

CONCURRENCY: Final = 128
FAKE_LATENCY_MS: Final = 500
IDEAL_RATE: Final = CONCURRENCY * 1000 / FAKE_LATENCY_MS
BENCH_KEY: Final = "bench-placeholder-key"
"""What the bench sends the fake directly; the fake accepts any key unless told otherwise."""
JSON: Final = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Target:
    """One endpoint under load: where, and the request every client sends."""

    url: str
    path: str
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


def fake_target(url: str) -> Target:
    """The fake Gemini's generateContent, called as the SDK calls it."""
    body = {"contents": [{"role": "user", "parts": [{"text": "bench"}]}]}
    return Target(
        url,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json.dumps(body),
        {**JSON, "x-goog-api-key": BENCH_KEY},
    )


def app_target(url: str) -> Target:
    """The service's /generate (directly, or through api-proxy)."""
    return Target(url, "/generate", json.dumps({"prompt": "bench"}), JSON)


def latency_run(target: Target, seconds: float) -> loadgen.LoadResult:
    """One connection, one request at a time: the latency of a request with no queueing."""
    return loadgen.run(
        target.url + target.path,
        connections=1,
        threads=1,
        duration_s=seconds,
        method="POST",
        body=target.body,
        headers=target.headers,
    )


def throughput_run(
    target: Target, seconds: float, connections: int = CONCURRENCY
) -> loadgen.LoadResult:
    """`connections` closed-loop clients (CONCURRENCY by default) on two wrk threads."""
    return loadgen.run(
        target.url + target.path,
        connections=connections,
        threads=2,
        duration_s=seconds,
        method="POST",
        body=target.body,
        headers=target.headers,
        timeout_s=10,
    )


def ok_rate(result: loadgen.LoadResult) -> float:
    """2xx answers a second: what a client got, not just what was sent."""
    return result.ok / result.duration_s if result.duration_s else 0.0


def throughput_figure(
    key: str, label: str, rates: list[float], share: float | None, note: str = ""
) -> Figure:
    """An issue 11 goal 2 row: 2xx/s at CONCURRENCY clients, judged as a share of the ideal."""
    return figure(
        key,
        f"(11.2) 2xx/s at {CONCURRENCY} clients, {label}",
        "req/s",
        Stats.of(rates),
        Stats.of([IDEAL_RATE]),
        "ideal",
        f">= {share:.0%} of ideal" if share else "(reported)",
        at_least_share(share) if share else None,
        note=note,
    )


def check(result: loadgen.LoadResult, what: str, report: Report) -> None:
    """A load run with errors still reports, but the table's notes must say so."""
    bad = result.requests - result.ok
    if bad or result.socket_errors:
        report.notes.append(
            f"{what}: {bad} non-2xx of {result.requests}, {result.socket_errors} socket errors "
            f"(statuses {dict(result.statuses)})"
        )


def rss_from_status(status: str) -> int:
    """Resident bytes from the text of /proc/PID/status (its VmRSS line is in kB)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def process_rss(pid: int) -> int:
    """Resident bytes of a host process."""
    return rss_from_status(Path(f"/proc/{pid}/status").read_text())


@contextlib.contextmanager
def peak_rss(sample: Callable[[], int], interval: float = 0.5) -> Iterator[list[int]]:
    """Sample RSS every `interval` seconds while the block runs; the list ends with the peak.

    A failed sample (the process is between states) is skipped, not fatal.
    """
    peak = [sample()]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):
                peak[0] = max(peak[0], sample())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
