"""Issue 11 goals 2, 3 and 6 on the compose stack: added latency, streaming, throughput.

One stack of this run, every hop published on loopback. First the fake answers at once, and
the latency of each hop (fake alone, app directly, through api-proxy) is taken in turn, run
by run, so a busy moment hits all three; then the first streamed byte through the proxy.
Then the fake answers in FAKE_LATENCY_MS and each hop takes CONCURRENCY closed-loop clients,
the app's memory sampled meanwhile; the ideal is CONCURRENCY answers per FAKE_LATENCY_MS.
Both SDK adapters follow, as host processes (host_sdks.py), against the same slow fake.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from gemini_workflow import docker_engine, loadgen
from gemini_workflow.bench.building import build_setup, stack_images
from gemini_workflow.bench.load import (
    CONCURRENCY,
    FAKE_LATENCY_MS,
    TTFB_SAMPLES,
    Target,
    app_stream_target,
    app_target,
    check,
    fake_stream_target,
    fake_target,
    first_byte,
    latency_run,
    ok_rate,
    peak_rss,
    throughput_figure,
    throughput_run,
)
from gemini_workflow.bench.report import (
    MB,
    Report,
    Stats,
    at_most,
    figure,
)
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.sections import host_sdks
from gemini_workflow.stack_up import RunningStack

LATENCY_ENV: Final = {"LOG_LEVEL": "info", "FAKE_GEMINI_LATENCY_MS": "0"}
THROUGHPUT_ENV: Final = {"LOG_LEVEL": "info", "FAKE_GEMINI_LATENCY_MS": str(FAKE_LATENCY_MS)}
# Issue 11, goals 2 and 3: the same share of the ideal both ways; the proxy may add 1 ms.
ADDED_LATENCY_GOAL_MS: Final = {"app": 2.0, "proxy": 3.0}
THROUGHPUT_GOAL: Final = {
    "fake": ("fake alone (load generator check)", None),
    "app": ("direct to the app container", 0.85),
    "proxy": ("through the proxy", 0.85),
}


def hops(stack: RunningStack) -> dict[str, Target]:
    """The three ways in, in the order they are measured: fake alone, app, through the proxy."""
    return {
        "fake": fake_target(stack.url("fake-gemini", 8001)),
        "app": app_target(stack.url("gemini-app", 8000)),
        "proxy": app_target(stack.proxy_url),
    }


def latency(run: BenchRun, report: Report, targets: dict[str, Target]) -> None:
    for target in targets.values():
        latency_run(target, 1)  # warm-up: connections, imports
    results: dict[str, list[loadgen.LoadResult]] = {name: [] for name in targets}
    runs = run.options.runs
    for n in range(runs):
        run.console.print(f"latency at concurrency 1, run {n + 1}/{runs}")
        for name, target in targets.items():
            results[name].append(latency_run(target, run.options.latency_seconds))
    for name, done in results.items():
        for result in done:
            check(result, f"latency {name}", report)
    add_latency_figures(report, results)


def add_latency_figures(report: Report, lat: dict[str, list[loadgen.LoadResult]]) -> None:
    """Each hop's percentile minus the fake's, run by run: what the hop adds."""
    fake = lat["fake"]
    for hop, goal in ADDED_LATENCY_GOAL_MS.items():
        way = "direct" if hop == "app" else "via proxy"
        for pct in ("p50", "p99"):
            added = [
                through.latency_ms[pct] - direct.latency_ms[pct]
                for through, direct in zip(lat[hop], fake, strict=True)
            ]
            report.add(
                figure(
                    f"added_latency_{hop}_{pct}",
                    f"(11.3) added latency {pct}, stack, {way}",
                    "ms",
                    Stats.of(added),
                    Stats.of(r.latency_ms[pct] for r in fake),
                    "fake alone",
                    f"< {goal:.0f} ms" if pct == "p50" else "(reported)",
                    at_most(goal) if pct == "p50" else None,
                )
            )


def stream(run: BenchRun, report: Report, stack: RunningStack) -> None:
    """Goal 6 as a client sees it: first streamed byte through the proxy, over the fake's own.

    The fake streams its first chunk at once here, so what is left is what the app and
    api-proxy add before a client sees the stream begin (nginx must not buffer it).
    """
    proxy = app_stream_target(stack.proxy_url)
    fake = fake_stream_target(stack.url("fake-gemini", 8001))
    first_byte(proxy, 1)  # warm-up
    added: list[float] = []
    own: list[float] = []
    for n in range(run.options.runs):
        run.console.print(f"stream first byte through the proxy, run {n + 1}/{run.options.runs}")
        own.append(first_byte(fake, TTFB_SAMPLES)[0])
        added.append(first_byte(proxy, TTFB_SAMPLES)[0] - own[-1])
    report.add(
        figure(
            "stream_ttfb_added_proxy",
            "(11.6) stream: first byte added, stack, via proxy",
            "ms",
            Stats.of(added),
            Stats.of(own),
            "fake's own first chunk",
            "(reported)",
            note=f"{TTFB_SAMPLES} streams a run at concurrency 1, median",
        )
    )


def throughput(run: BenchRun, report: Report, targets: dict[str, Target], app: Any) -> None:
    """2xx/s of each hop; the app container's peak RSS while it is loaded directly."""
    idle_rss = docker_engine.container_rss(app) / MB
    rates: dict[str, list[float]] = {name: [] for name in targets}
    rss: list[float] = []
    runs = run.options.runs
    for n in range(runs):
        run.console.print(f"throughput at {CONCURRENCY} clients, run {n + 1}/{runs}")
        for name, target in targets.items():
            # Memory is sampled (`docker top`, CPU of its own) only while the app is loaded.
            watch: contextlib.AbstractContextManager[list[int]] = (
                peak_rss(lambda: docker_engine.container_rss(app))
                if name == "app"
                else contextlib.nullcontext([0])
            )
            with watch as peak:
                result = throughput_run(target, run.options.load_seconds)
            check(result, f"throughput {name}", report)
            rates[name].append(ok_rate(result))
            if name == "app":
                rss.append(peak[0] / MB)
    add_throughput_figures(report, rates, rss, idle_rss)


def add_throughput_figures(
    report: Report, rates: dict[str, list[float]], rss: list[float], idle_rss: float
) -> None:
    for key, (label, share) in THROUGHPUT_GOAL.items():
        report.add(throughput_figure(f"throughput_{key}", label, rates[key], share))
    report.add(
        figure(
            "app_rss_under_load",
            "(11.5) app container RSS under load (peak)",
            "MB",
            Stats.of(rss),
            Stats.of([idle_rss]),
            "idle",
            "(reported)",
        )
    )


def measure(run: BenchRun, report: Report) -> None:
    """Added latency at concurrency 1, then throughput at CONCURRENCY clients, both SDKs."""
    loadgen.ensure_wrk()
    images = stack_images(run, build_setup(run.root))
    run.console.print("stack up (fake latency 0 ms) for the latency runs")
    with run.stack("service", images, LATENCY_ENV) as stack:
        latency(run, report, hops(stack))
        stream(run, report, stack)
        run.console.print(f"stack up (fake latency {FAKE_LATENCY_MS} ms) for the throughput runs")
        stack = run.restart_stack(stack, THROUGHPUT_ENV)
        targets = hops(stack)
        throughput(run, report, targets, stack.container("gemini-app"))
        host_sdks.measure(run, report, targets["fake"].url)
