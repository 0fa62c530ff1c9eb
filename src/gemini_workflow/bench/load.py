"""Load with wrk (loadgen.py) against one endpoint, and memory sampled while it runs.

A latency run is one connection sending one request at a time: the time of a request with
no queueing. A throughput run is CONCURRENCY closed-loop clients: against an upstream that
answers in FAKE_LATENCY_MS, at most CONCURRENCY * 1000 / FAKE_LATENCY_MS answers a second.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from gemini_workflow import loadgen
from gemini_workflow.bench.report import Figure, Report, Stats, at_least_share, figure

CONCURRENCY: Final = 128
FAKE_LATENCY_MS: Final = 500
IDEAL_RATE: Final = CONCURRENCY * 1000 / FAKE_LATENCY_MS
BENCH_KEY: Final = "bench-placeholder-key"
"""What the bench sends the fake directly; the fake accepts any key unless told otherwise."""
JSON: Final = {"Content-Type": "application/json"}
STREAM_PROMPT: Final = " ".join(f"word{n}" for n in range(31))
"""The fake echoes "Echo: " and the prompt, a few words a chunk: 8 chunks for this one."""
TTFB_SAMPLES: Final = 50


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


def fake_stream_target(url: str) -> Target:
    """The fake Gemini's streamGenerateContent (SSE) with STREAM_PROMPT."""
    body = {"contents": [{"role": "user", "parts": [{"text": STREAM_PROMPT}]}]}
    return Target(
        url,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        json.dumps(body),
        {**JSON, "x-goog-api-key": BENCH_KEY},
    )


def app_stream_target(url: str) -> Target:
    """The service's /generate/stream with STREAM_PROMPT (directly, or through api-proxy)."""
    return Target(url, "/generate/stream", json.dumps({"prompt": STREAM_PROMPT}), JSON)


def first_byte(target: Target, samples: int) -> tuple[float, int]:
    """Median ms from sending a stream request to its first body byte; and the chunk events.

    One keep-alive connection, one request at a time (concurrency 1), as wrk would, but with
    the clock stopped at the first byte instead of the last.
    """
    host, _, port = target.url.removeprefix("http://").partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    times: list[float] = []
    events = 0
    try:
        for _ in range(samples):
            sent = time.perf_counter()
            connection.request("POST", target.path, body=target.body, headers=target.headers)
            response = connection.getresponse()
            first = response.read(1)
            times.append((time.perf_counter() - sent) * 1000)
            rest = first + response.read()
            events = rest.count(b"event: chunk") or rest.count(b"data: ")
    finally:
        connection.close()
    return statistics.median(times), events


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
