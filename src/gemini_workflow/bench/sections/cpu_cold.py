"""Issue 11 goal 4 on the host: process start to the first 200, and where the time goes.

Each round starts every target twice, fresh: once until /health answers 200 (its idle RSS is
read then: goal 5), once until /generate does, so neither figure includes the other. The
fake answers at once. Then `python -X importtime` of the service's startup path says which
heavy modules the time goes to. Part of the `cpu` section; `startup` has the same goal for
the container (`docker run`), which adds the container's own start.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from typing import Final

from gemini_workflow.bench import procs, runtime, targets
from gemini_workflow.bench.load import BENCH_KEY
from gemini_workflow.bench.report import Report, Stats, at_most, figure
from gemini_workflow.bench.rounds import median, rotations
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.targets import MINIMAL, RAW, REST, SERVICE, Target

MIN_ROUNDS: Final = 5
"""A start-up time is noisy: never fewer rounds than this."""
GOALS_S: Final = {"health": 0.8, "generate": 1.2}
HEAVY_MODULES: Final = (
    "fastapi", "pydantic", "uvicorn", "aiohttp", "google.genai", "google.genai.types",
    "httpx2", "gemini_service", "gemini_service.clients.genai", "gemini_service.clients.rest",
)  # fmt: skip
STARTUP: Final = """
import asyncio
import gemini_service.__main__
from gemini_service.clients import create_client
from gemini_service.settings import load_settings
asyncio.run(create_client(load_settings()).start())
"""
"""What `python -m gemini_service` does before uvicorn binds: imports, then the client built."""
IMPORT_LINE: Final = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)")


def cold_starts(run: BenchRun, report: Report) -> dict[str, dict[str, list[float]]]:
    """Per target: seconds to /health, seconds to /generate, idle RSS MB; MIN_ROUNDS at least."""
    chosen = [SERVICE, MINIMAL, RAW, REST]
    found: dict[str, dict[str, list[float]]] = {
        t.label: {"health": [], "generate": [], "rss": []} for t in chosen
    }
    fake = targets.start_fake(run, 0)
    with procs.serving([fake]):
        for round_, order in rotations(chosen, max(run.options.runs, MIN_ROUNDS)):
            run.console.print(f"process start -> first 200, round {round_ + 1}")
            for target in order:
                figures = found[target.label]
                with procs.serving([targets.start(run, target, fake.url)]) as (server,):
                    figures["health"].append(procs.wait_health(server))
                    figures["rss"].append(procs.memory_mb(server.pid))
                with procs.serving([targets.start(run, target, fake.url)]) as (server,):
                    figures["generate"].append(procs.wait_generate(server))
    return found


def add_figures(report: Report, found: dict[str, dict[str, list[float]]]) -> None:
    minimal = found[MINIMAL.label]
    raw = found[RAW.label]
    for target in (SERVICE, REST):
        key = "rest" if target is REST else "service"
        for path, goal in GOALS_S.items():
            note = f"raw floor {median(raw[path]):.3f} s" if target is SERVICE else ""
            report.add(
                figure(
                    f"process_start_{path}_{key}",
                    f"(11.4) process start -> first 200 /{path}, {target.label}",
                    "s",
                    Stats.of(found[target.label][path]),
                    Stats.of(minimal[path]),
                    "minimal peer",
                    f"< {goal} s",
                    at_most(goal),
                    note=note,
                )
            )
        report.add(
            figure(
                f"idle_rss_{key}",
                f"(11.5) idle RSS, {target.label}",
                "MB",
                Stats.of(found[target.label]["rss"]),
                Stats.of(minimal["rss"]),
                "minimal peer",
                "(reported)",
                note=f"raw floor {median(raw['rss']):.0f} MB" if target is SERVICE else "",
            )
        )


def import_times(stderr: str) -> dict[str, float]:
    """Cumulative ms of each heavy module, from `python -X importtime` (they overlap)."""
    found = {}
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match and match[2] in HEAVY_MODULES:
            found[match[2]] = int(match[1]) / 1000
    return found


def import_note(run: BenchRun, target: Target) -> str:
    """One line: the heavy modules' import times on the service's startup path."""
    env: Mapping[str, str] = {"GEMINI_API_KEY": BENCH_KEY, **target.env}
    done = subprocess.run(
        [str(runtime.python(run)), "-X", "importtime", "-c", STARTUP],
        env=procs.clean_environment(env),
        cwd=run.workdir,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    times = import_times(done.stderr)
    if done.returncode != 0 or not times:
        return f"import times for {target.label}: not measured ({done.stderr.strip()[-300:]})"
    listed = ", ".join(f"{name} {ms:.0f}" for name, ms in times.items())
    return f"`python -X importtime`, {target.label}, cumulative ms: {listed}"


def measure(run: BenchRun, report: Report) -> None:
    """Goal 4 (and idle RSS, goal 5): process start to the first 200 of each target."""
    add_figures(report, cold_starts(run, report))
    for target in (SERVICE, REST):
        report.notes.append(import_note(run, target))
