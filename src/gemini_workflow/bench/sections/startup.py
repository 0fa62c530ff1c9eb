"""Figure 4: `docker run` to the first 200 on /health, next to a bare Python HTTP server.

Both containers start from `docker run -d` (the CLI, as a person runs it) with a published
loopback port, polled every 10 ms until it answers 200; the reference is `python3 -m
http.server` on the same base image, the floor for "a container with a Python server".
"""

from __future__ import annotations

import subprocess
import time
from typing import Final

from gemini_workflow import wait
from gemini_workflow.bench.building import build_setup, stack_images
from gemini_workflow.bench.load import BENCH_KEY
from gemini_workflow.bench.report import Report, Stats, at_most, figure
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port

MIN_RUNS: Final = 5
"""A start-up time is noisy: never fewer runs than this."""
FLOOR_COMMAND: Final = ("python3", "-m", "http.server", "--bind", "0.0.0.0", "8000")  # noqa: S104


def time_to_first_200(
    run: BenchRun, what: str, image: str, *command: str, path: str = "/health"
) -> float:
    """`docker run -d` to the first 200 on `path` through a published loopback port."""
    port = free_port()
    name = run.container_name(what)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                name,
                "-p",
                f"127.0.0.1:{port}:8000",
                "-e",
                f"GEMINI_API_KEY={BENCH_KEY}",
                "-e",
                "GEMINI_API_ENDPOINT=http://127.0.0.1:9",
                image,
                *command,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise WorkflowError(f"`docker run {image}` failed: {done.stderr.strip()[-2000:]}")
        wait.http_ok(f"http://127.0.0.1:{port}{path}", timeout=60, interval=0.01)
        return time.perf_counter() - started
    finally:
        run.remove_container(name)


def measure(run: BenchRun, report: Report) -> None:
    """Container start to the first 200, next to a bare Python HTTP server on the same base."""
    setup = build_setup(run.root)
    app = stack_images(run, setup).app
    service: list[float] = []
    floor: list[float] = []
    runs = max(run.options.runs, MIN_RUNS)
    for n in range(runs):
        run.console.print(f"docker run -> first 200 on /health, run {n + 1}/{runs}")
        service.append(time_to_first_200(run, f"app{n}", app))
        # the directory listing: http.server has no /health
        floor.append(
            time_to_first_200(run, f"floor{n}", setup.python_base, *FLOOR_COMMAND, path="/")
        )
    report.add(
        figure(
            "startup_to_200",
            "(4) docker run -> first 200 /health",
            "s",
            Stats.of(service),
            Stats.of(floor),
            "stdlib http.server",
            "< 1 s median",
            at_most(1.0),
        )
    )
