"""Issue 11 goals 3 and 6 on the host: latency added at concurrency 1, and streaming.

Both are taken over the fake answering in 10 ms, and both subtract what the fake itself
takes in the same round: its own p50/p99 when called directly, its own time to the first
streamed byte. What is left is what the service adds. Part of the `cpu` section.
"""

from __future__ import annotations

from typing import Final

from gemini_workflow.bench import procs, targets
from gemini_workflow.bench.load import (
    TTFB_SAMPLES,
    app_stream_target,
    app_target,
    check,
    fake_stream_target,
    fake_target,
    first_byte,
    latency_run,
)
from gemini_workflow.bench.report import Report, Stats, at_most, figure
from gemini_workflow.bench.rounds import loaded, median, rotations
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.targets import MINIMAL, RAW, REST, SERVICE

LATENCY_FAKE_MS: Final = 10
ADDED_P50_GOAL_MS: Final = 2.0
STREAM_CONNECTIONS: Final = 64


def latency(run: BenchRun, report: Report) -> None:
    """Goal 3: p50 and p99 at concurrency 1, minus the fake's own in the same round."""
    chosen = [SERVICE, MINIMAL, RAW, REST]
    added: dict[str, dict[str, list[float]]] = {t.label: {"p50": [], "p99": []} for t in chosen}
    fake_p50: list[float] = []
    with targets.serving(run, chosen, LATENCY_FAKE_MS) as (fake, servers):
        for round_, order in rotations(chosen, run.options.runs):
            run.console.print(f"latency at concurrency 1, round {round_ + 1}")
            direct = latency_run(fake_target(fake.url), run.options.latency_seconds)
            fake_p50.append(direct.latency_ms["p50"])
            for target in order:
                result = latency_run(
                    app_target(servers[target.label].url), run.options.latency_seconds
                )
                check(result, f"latency {target.label}", report)
                for pct in ("p50", "p99"):
                    added[target.label][pct].append(result.latency_ms[pct] - direct.latency_ms[pct])
    add_latency_figures(report, added, fake_p50)


def add_latency_figures(
    report: Report, added: dict[str, dict[str, list[float]]], fake_p50: list[float]
) -> None:
    note = (
        f"fake {LATENCY_FAKE_MS} ms, its own p50 {median(fake_p50):.2f} ms; raw floor adds"
        f" p50 {median(added[RAW.label]['p50']):.2f} ms,"
        f" p99 {median(added[RAW.label]['p99']):.2f} ms"
    )
    for target in (SERVICE, REST):
        for pct in ("p50", "p99"):
            judged = pct == "p50"
            report.add(
                figure(
                    f"host_added_{pct}_{'rest' if target is REST else 'service'}",
                    f"(11.3) added {pct} at concurrency 1, {target.label}",
                    "ms",
                    Stats.of(added[target.label][pct]),
                    Stats.of(added[MINIMAL.label][pct]),
                    "minimal peer",
                    f"< {ADDED_P50_GOAL_MS:.0f} ms" if judged else "(reported)",
                    at_most(ADDED_P50_GOAL_MS) if judged else None,
                    note=note if target is SERVICE and judged else "",
                )
            )


# ----------------------------------------------------------------------------- streaming


def stream(run: BenchRun, report: Report) -> None:
    """Goal 6: time to the first streamed byte over the fake's own, and CPU per chunk."""
    chosen = [SERVICE, REST]
    ttfb: dict[str, list[float]] = {t.label: [] for t in chosen}
    per_chunk: dict[str, list[float]] = {t.label: [] for t in chosen}
    fake_ttfb: list[float] = []
    with targets.serving(run, chosen, LATENCY_FAKE_MS) as (fake, servers):
        chunks = first_byte(app_stream_target(servers[SERVICE.label].url), 1)[1]
        for round_, order in rotations(chosen, run.options.runs):
            run.console.print(f"streaming, round {round_ + 1}")
            fake_ttfb.append(first_byte(fake_stream_target(fake.url), TTFB_SAMPLES)[0])
            for target in order:
                server = servers[target.label]
                own = first_byte(app_stream_target(server.url), TTFB_SAMPLES)[0]
                ttfb[target.label].append(own - fake_ttfb[-1])
                per_chunk[target.label].append(stream_cpu(server, run, report) / chunks)
    add_stream_figures(report, ttfb, per_chunk, fake_ttfb, chunks)


def stream_cpu(server: procs.HostProcess, run: BenchRun, report: Report) -> float:
    """CPU ms per stream at STREAM_CONNECTIONS closed-loop clients."""
    target = app_stream_target(server.url)
    result, ms = loaded(server.pid, target, STREAM_CONNECTIONS, run.options.load_seconds)
    check(result, f"stream {server.name}", report)
    return ms


def add_stream_figures(
    report: Report,
    ttfb: dict[str, list[float]],
    per_chunk: dict[str, list[float]],
    fake_ttfb: list[float],
    chunks: int,
) -> None:
    fake = Stats.of(fake_ttfb)
    for target in (SERVICE, REST):
        key = "rest" if target is REST else "service"
        report.add(
            figure(
                f"stream_ttfb_added_{key}",
                f"(11.6) stream: first byte added, {target.label}",
                "ms",
                Stats.of(ttfb[target.label]),
                fake,
                "fake's own first chunk",
                "(reported)",
                note=f"{TTFB_SAMPLES} streams a round at concurrency 1, median",
            )
        )
        report.add(
            figure(
                f"stream_cpu_per_chunk_{key}",
                f"(11.6) stream: CPU per chunk, {target.label}",
                "ms",
                Stats.of(per_chunk[target.label]),
                None,
                "",
                "(reported)",
                note=f"{chunks} chunks a stream, {STREAM_CONNECTIONS} conns",
            )
        )
