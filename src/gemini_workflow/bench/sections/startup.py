"""Issue 11 goal 4 for the container: `docker run` to the first 200 on /health and /generate.

Every container starts from `docker run -d` (the CLI, as a person runs it) with a published
loopback port, polled every 10 ms until it answers 200, on a network of this run where the
image's fake Gemini already serves, so /generate can answer. /health and /generate are timed
on separate fresh containers, so neither includes the other. The reference is `python3 -m
http.server` on the same base image: the floor for "a container with a Python server".
"""

from __future__ import annotations

import subprocess
import time
from typing import Final

from gemini_workflow import probe, wait
from gemini_workflow.bench.building import build_setup, stack_images
from gemini_workflow.bench.load import BENCH_KEY
from gemini_workflow.bench.procs import NOT_YET
from gemini_workflow.bench.report import Report, Stats, at_most, figure
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port

MIN_RUNS: Final = 5
"""A start-up time is noisy: never fewer runs than this."""
FLOOR_COMMAND: Final = ("python3", "-m", "http.server", "--bind", "0.0.0.0", "8000")  # noqa: S104
GOALS_S: Final = {"/health": 0.8, "/generate": 1.2}
REST_SDK: Final = "GEMINI_SDK=rest"
"""The opt-in adapter without google-genai's import cost: what start-up it buys is reported."""
FAKE: Final = "fake"
"""The fake's container name on the run's network is its host name there."""


def answers(url: str, path: str) -> bool:
    """One poll: a 200 from GET `path`, or from POST /generate (the fake answering behind)."""
    if path == "/generate":
        return probe.ask(url, "bench", timeout=5).status == 200
    return wait.http_status(url + path) == 200


def time_to_first_200(
    run: BenchRun,
    what: str,
    image: str,
    *command: str,
    path: str = "/health",
    network: str,
    env: tuple[str, ...] = (),
) -> float:
    """`docker run -d` to the first 200 on `path` through a published loopback port.

    `env` is extra NAME=VALUE settings for the container (an SDK adapter, say).
    """
    port = free_port()
    name = run.container_name(what)
    settings = [f"GEMINI_API_KEY={BENCH_KEY}", f"GEMINI_API_ENDPOINT=http://{run.name(FAKE)}:8001"]
    try:
        started = time.perf_counter()
        done = subprocess.run(
            ["docker", "run", "-d", "--name", name, "--network", network,
             "-p", f"127.0.0.1:{port}:8000",
             *(f"--env={setting}" for setting in (*settings, *env)), image, *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise WorkflowError(f"`docker run {image}` failed: {done.stderr.strip()[-2000:]}")
        url = f"http://127.0.0.1:{port}"
        wait.until(
            lambda: answers(url, path),
            timeout=60,
            interval=0.01,
            what=f"a 200 from {path} of {name}",
            retry_on=NOT_YET,
        )
        return time.perf_counter() - started
    finally:
        run.remove_container(name)


def fake_network(run: BenchRun, fake_image: str) -> str:
    """A network of this run with the fake Gemini serving on it; both removed on close.

    Made once per run: a later section (reproducible) starts its containers on it too.
    """
    network = run.name("startup")
    if run.client.networks.list(names=[network]):
        return network
    run.client.networks.create(network, driver="bridge")
    fake = run.name(FAKE)

    def remove() -> None:
        run.remove_container(fake)
        run.client.networks.get(network).remove()

    run.defer(f"network {network} and container {fake}", remove)
    container = run.client.containers.run(
        fake_image, name=fake, network=network, detach=True, environment={"LOG_LEVEL": "warning"}
    )
    wait.container_healthy(container, timeout=60)
    return network


def measure(run: BenchRun, report: Report) -> None:
    """Container start to the first 200, next to a bare Python HTTP server on the same base."""
    setup = build_setup(run.root)
    images = stack_images(run, setup)
    network = fake_network(run, images.fake)
    service: dict[str, list[float]] = {path: [] for path in GOALS_S}
    rest: list[float] = []
    floor: list[float] = []
    runs = max(run.options.runs, MIN_RUNS)
    for n in range(runs):
        run.console.print(f"docker run -> first 200 on /health and /generate, run {n + 1}/{runs}")
        for path, values in service.items():
            what = f"app{n}{path.replace('/', '-')}"
            values.append(time_to_first_200(run, what, images.app, path=path, network=network))
        rest.append(
            time_to_first_200(run, f"rest{n}", images.app, network=network, env=(REST_SDK,))
        )
        # the directory listing: http.server has no /health
        floor.append(
            time_to_first_200(
                run, f"floor{n}", setup.python_base, *FLOOR_COMMAND, path="/", network=network
            )
        )
    add_figures(report, service, rest, floor)


def add_figures(
    report: Report, service: dict[str, list[float]], rest: list[float], floor: list[float]
) -> None:
    for path, goal in GOALS_S.items():
        report.add(
            figure(
                f"startup_to_200{path.replace('/', '_')}",
                f"(11.4) docker run -> first 200 {path}",
                "s",
                Stats.of(service[path]),
                Stats.of(floor),
                "stdlib http.server",
                f"< {goal} s median",
                at_most(goal),
            )
        )
    report.add(
        figure(
            "startup_to_200_health_rest",
            f"(11.4) docker run -> first 200 /health, {REST_SDK}",
            "s",
            Stats.of(rest),
            Stats.of(floor),
            "stdlib http.server",
            f"< {GOALS_S['/health']} s median (opt-in adapter)",
            at_most(GOALS_S["/health"]),
        )
    )
