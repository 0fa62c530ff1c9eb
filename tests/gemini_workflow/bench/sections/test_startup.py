"""Issue 11 goal 4: `docker run` to the first 200, its reference, the container's removal."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import wait
from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import startup
from gemini_workflow.errors import WorkflowError
from tests.gemini_workflow.bench.support import IMAGES, SETUP, FakeEngine, make_run


def test_the_service_is_compared_with_a_bare_python_server_at_least_five_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[str, str, tuple[str, ...], str, str]] = []
    envs: list[tuple[str, ...]] = []

    def first_200(
        _run: object,
        what: str,
        image: str,
        *command: str,
        path: str = "/health",
        network: str,
        env: tuple[str, ...] = (),
    ) -> float:
        started.append((what, image, command, path, network))
        envs.append(env)
        if env:
            return 0.6
        return 0.5 if command else {"/health": 0.79, "/generate": 1.3}[path]

    monkeypatch.setattr(startup, "build_setup", lambda _root: SETUP)
    monkeypatch.setattr(startup, "stack_images", lambda _run, _setup: IMAGES)
    monkeypatch.setattr(startup, "fake_network", lambda _run, image: f"net-with-{image}")
    monkeypatch.setattr(startup, "time_to_first_200", first_200)
    report = Report()

    startup.measure(make_run(tmp_path, runs=2), report)

    health, generate, rest = report.figures
    assert health.reference is not None
    assert (health.value.median, health.reference.median, health.met) == (0.79, 0.5, True)
    assert (generate.title, generate.met) == ("(11.4) docker run -> first 200 /generate", False)
    assert (rest.value.median, rest.met) == (0.6, True)
    assert [image for _, image, _, _, _ in started].count(IMAGES.app) == 15
    assert started[1][3] == "/generate"
    assert envs[2] == ("GEMINI_SDK=rest",)  # the opt-in adapter, on the same image
    assert started[3] == (
        "floor0",
        SETUP.python_base,
        startup.FLOOR_COMMAND,
        "/",
        "net-with-fake:1",
    )


@pytest.fixture
def docker_run(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    commands: list[list[str]] = []

    def run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        commands.append(cmd)
        code = 125 if "broken:1" in cmd else 0
        return subprocess.CompletedProcess(cmd, code, "id\n", "port is already allocated")

    monkeypatch.setattr(startup.subprocess, "run", run)
    return commands


@pytest.mark.parametrize("path", ["/health", "/generate"])
def test_a_start_publishes_on_loopback_waits_for_200_and_removes_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_run: list[list[str]], path: str
) -> None:
    engine = FakeEngine()
    polled: list[tuple[str, str]] = []
    waited: list[float] = []

    def until(check: Any, *, interval: float, **_: Any) -> float:
        waited.append(interval)
        assert check()
        return 0.3

    monkeypatch.setattr(startup, "answers", lambda url, path: polled.append((url, path)) or True)
    monkeypatch.setattr(wait, "until", until)
    run = make_run(tmp_path, engine)
    engine.add_container("gemini-bench-r1-app0")  # what `docker run` created

    assert startup.time_to_first_200(run, "app0", "app:1", path=path, network="n1") >= 0

    (command,) = docker_run
    assert command[:5] == ["docker", "run", "-d", "--name", "gemini-bench-r1-app0"]
    assert command[command.index("--network") + 1] == "n1"
    assert "--env=GEMINI_API_ENDPOINT=http://gemini-bench-r1-fake:8001" in command
    published = command[command.index("-p") + 1]
    host, port, container_port = published.split(":")
    assert (host, container_port) == ("127.0.0.1", "8000")
    assert polled == [(f"http://127.0.0.1:{port}", path)]
    assert waited == [0.01]  # polled every 10 ms
    assert engine.removed == ["gemini-bench-r1-app0"]


def test_a_start_that_never_answers_still_removes_its_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_run: list[list[str]]
) -> None:
    def never(check: Any, *, what: str, **_: Any) -> float:
        raise wait.WaitTimeout(f"{what} did not happen within 60 s")

    monkeypatch.setattr(wait, "until", never)
    engine = FakeEngine()
    run = make_run(tmp_path, engine)
    engine.add_container("gemini-bench-r1-app0")

    with pytest.raises(wait.WaitTimeout):
        startup.time_to_first_200(run, "app0", "app:1", network="n1")

    assert engine.removed == ["gemini-bench-r1-app0"]


def test_a_failed_docker_run_says_why_and_leaves_no_container(
    tmp_path: Path, docker_run: list[list[str]]
) -> None:
    engine = FakeEngine()
    run = make_run(tmp_path, engine)
    engine.add_container("gemini-bench-r1-app0")  # created, but it could not start

    with pytest.raises(WorkflowError, match="port is already allocated"):
        startup.time_to_first_200(run, "app0", "broken:1", network="n1")

    assert engine.removed == ["gemini-bench-r1-app0"]
