"""Issue 11 on the host: the service process next to the programs an ordinary user would write.

Every target is one host process on the runtime venv (runtime.py), started as the image
starts the service, calling the project's fake Gemini (a separate process with a fixed
latency), loaded by wrk from a third process. CPU is user + system from /proc, summed over
the process tree, divided by the requests served. The machine has two cores that other work
may share, so the targets are interleaved within each round, the order rotating, and every
figure is the median of the rounds: the ratios to the minimal peer keep their meaning.

This module: goal 1 (CPU per /generate) and goal 2 (throughput, 1 and 2 workers, with the
peak RSS of goal 5); cpu_latency.py goals 3 and 6, cpu_cold.py goal 4 and the idle RSS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from gemini_workflow import loadgen
from gemini_workflow.bench import procs, targets
from gemini_workflow.bench.load import (
    CONCURRENCY,
    FAKE_LATENCY_MS,
    IDEAL_RATE,
    app_target,
    check,
    ok_rate,
    throughput_figure,
    throughput_run,
)
from gemini_workflow.bench.report import Report, Stats, at_most_share, figure
from gemini_workflow.bench.rounds import loaded, median, rotations
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.sections import cpu_cold, cpu_latency
from gemini_workflow.bench.targets import MINIMAL, RAW, REST, SERVICE, SERVICE_X2, Target

CPU_CONNECTIONS: Final = 64
CPU_FAKE_MS: Final = 200
WARM_SECONDS: Final = 1.0


@dataclass(frozen=True)
class Loaded:
    """What the rounds of `load_rounds` measured, per target label."""

    rates: dict[str, list[float]]
    """2xx/s of each round."""
    cpu: dict[str, list[float]]
    """CPU ms per request of each round."""
    peaks: dict[str, float]
    """Peak RSS in MB (VmHWM) after the last round."""


def load_rounds(
    run: BenchRun,
    report: Report,
    chosen: Sequence[Target],
    *,
    fake_ms: int,
    connections: int,
    what: str,
    warm_seconds: float = 0.0,
) -> Loaded:
    """Every chosen target loaded in turn, the order rotating each round, against one fake."""
    rates: dict[str, list[float]] = {t.label: [] for t in chosen}
    cpu: dict[str, list[float]] = {t.label: [] for t in chosen}
    with targets.serving(run, chosen, fake_ms) as (_fake, servers):
        for round_, order in rotations(chosen, run.options.runs):
            run.console.print(f"{what}, round {round_ + 1}")
            for target in order:
                server = servers[target.label]
                if warm_seconds:
                    throughput_run(app_target(server.url), warm_seconds, connections)
                result, ms = loaded(
                    server.pid, app_target(server.url), connections, run.options.load_seconds
                )
                check(result, f"{what} {target.label}", report)
                rates[target.label].append(ok_rate(result))
                cpu[target.label].append(ms)
        peaks = {label: procs.memory_mb(s.pid, "VmHWM") for label, s in servers.items()}
    return Loaded(rates, cpu, peaks)


def cpu_per_request(run: BenchRun, report: Report) -> None:
    """Goal 1: CPU per /generate at 64 connections against a 200 ms fake."""
    chosen = [SERVICE, MINIMAL, RAW, REST]
    done = load_rounds(
        run,
        report,
        chosen,
        fake_ms=CPU_FAKE_MS,
        connections=CPU_CONNECTIONS,
        what="CPU per /generate",
        warm_seconds=WARM_SECONDS,
    )
    add_cpu_figures(report, done.cpu, done.rates)


def add_cpu_figures(
    report: Report, cpu: dict[str, list[float]], rates: dict[str, list[float]]
) -> None:
    minimal = Stats.of(cpu[MINIMAL.label])
    ideal = CPU_CONNECTIONS * 1000 / CPU_FAKE_MS
    served = ", ".join(f"{label} {median(r):.0f}" for label, r in rates.items())
    where = f"{CPU_CONNECTIONS} conns, fake {CPU_FAKE_MS} ms"
    report.add(
        figure(
            "cpu_per_generate",
            f"(11.1) CPU per /generate, service on host ({where})",
            "ms",
            Stats.of(cpu[SERVICE.label]),
            minimal,
            "minimal peer",
            "<= minimal peer (ratio <= 1.0)",
            at_most_share(1.0),
            note=f"req/s (ideal {ideal:.0f}): {served}",
        )
    )
    for key, target, goal in (("raw", RAW, "(the floor)"), ("rest", REST, "(opt-in, reported)")):
        report.add(
            figure(
                f"cpu_per_generate_{key}",
                f"(11.1) CPU per /generate, {target.label}",
                "ms",
                Stats.of(cpu[target.label]),
                minimal,
                "minimal peer",
                goal,
            )
        )


def throughput(run: BenchRun, report: Report) -> None:
    """Goal 2: 2xx/s at 128 clients against a 500 ms fake, 1 and 2 workers; peak RSS (goal 5)."""
    chosen = [SERVICE, SERVICE_X2, MINIMAL, RAW]
    done = load_rounds(
        run,
        report,
        chosen,
        fake_ms=FAKE_LATENCY_MS,
        connections=CONCURRENCY,
        what=f"throughput at {CONCURRENCY} clients",
    )
    add_throughput_figures(report, chosen, done.rates, done.cpu, done.peaks)


def add_throughput_figures(
    report: Report,
    chosen: Sequence[Target],
    rates: dict[str, list[float]],
    cpu: dict[str, list[float]],
    peaks: dict[str, float],
) -> None:
    for target in chosen:
        note = f"CPU {median(cpu[target.label]):.2f} ms/req, peak RSS {peaks[target.label]:.0f} MB"
        judged = 0.85 if target is SERVICE else None
        key = target.label.replace(", ", "_").replace(" ", "_")
        rows = rates[target.label]
        report.add(throughput_figure(f"host_throughput_{key}", target.label, rows, judged, note))
    report.add(
        figure(
            "host_peak_rss",
            f"(11.5) peak RSS at {CONCURRENCY} clients, service on host",
            "MB",
            Stats.of([peaks[SERVICE.label]]),
            Stats.of([peaks[MINIMAL.label]]),
            "minimal peer",
            "(reported)",
            note=f"2 workers: {peaks[SERVICE_X2.label]:.0f} MB (ideal {IDEAL_RATE:.0f} req/s)",
        )
    )


def measure(run: BenchRun, report: Report) -> None:
    """The service process next to a minimal FastAPI + google-genai peer and the raw floor."""
    loadgen.ensure_wrk()
    cpu_per_request(run, report)
    throughput(run, report)
    cpu_latency.latency(run, report)
    cpu_cold.measure(run, report)
    cpu_latency.stream(run, report)
