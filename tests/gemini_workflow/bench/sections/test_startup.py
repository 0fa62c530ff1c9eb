"""Figure 4: `docker run` to the first 200, its reference, and the container's removal."""

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
    started: list[tuple[str, str, tuple[str, ...], str]] = []

    def first_200(
        _run: object, what: str, image: str, *command: str, path: str = "/health"
    ) -> float:
        started.append((what, image, command, path))
        return 0.5 if command else 0.8

    monkeypatch.setattr(startup, "build_setup", lambda _root: SETUP)
    monkeypatch.setattr(startup, "stack_images", lambda _run, _setup: IMAGES)
    monkeypatch.setattr(startup, "time_to_first_200", first_200)
    report = Report()

    startup.measure(make_run(tmp_path, runs=2), report)

    (figure,) = report.figures
    assert figure.reference is not None
    assert (figure.value.median, figure.reference.median, figure.met) == (0.8, 0.5, True)
    assert [image for _, image, _, _ in started].count(IMAGES.app) == 5
    assert started[1] == ("floor0", SETUP.python_base, startup.FLOOR_COMMAND, "/")


@pytest.fixture
def docker_run(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    commands: list[list[str]] = []

    def run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        commands.append(cmd)
        code = 125 if "broken:1" in cmd else 0
        return subprocess.CompletedProcess(cmd, code, "id\n", "port is already allocated")

    monkeypatch.setattr(startup.subprocess, "run", run)
    return commands


def test_a_start_publishes_on_loopback_waits_for_200_and_removes_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_run: list[list[str]]
) -> None:
    engine = FakeEngine()
    waited: list[tuple[str, float]] = []
    monkeypatch.setattr(
        wait, "http_ok", lambda url, timeout, interval: waited.append((url, interval)) or 0.3
    )
    run = make_run(tmp_path, engine)
    engine.add_container("gemini-bench-r1-app0")  # what `docker run` created

    assert startup.time_to_first_200(run, "app0", "app:1") >= 0

    (command,) = docker_run
    assert command[:5] == ["docker", "run", "-d", "--name", "gemini-bench-r1-app0"]
    published = command[command.index("-p") + 1]
    host, port, container_port = published.split(":")
    assert (host, container_port) == ("127.0.0.1", "8000")
    assert waited == [(f"http://127.0.0.1:{port}/health", 0.01)]  # polled every 10 ms
    assert engine.removed == ["gemini-bench-r1-app0"]


def test_a_start_that_never_answers_still_removes_its_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_run: list[list[str]]
) -> None:
    def never(url: str, timeout: float, interval: float) -> float:
        raise wait.WaitTimeout(f"a 200 from {url} did not happen within 60 s")

    monkeypatch.setattr(wait, "http_ok", never)
    engine = FakeEngine()
    run = make_run(tmp_path, engine)
    engine.add_container("gemini-bench-r1-app0")

    with pytest.raises(wait.WaitTimeout):
        startup.time_to_first_200(run, "app0", "app:1")

    assert engine.removed == ["gemini-bench-r1-app0"]


def test_a_failed_docker_run_says_why_and_leaves_no_container(
    tmp_path: Path, docker_run: list[list[str]]
) -> None:
    engine = FakeEngine()
    run = make_run(tmp_path, engine)
    engine.add_container("gemini-bench-r1-app0")  # created, but it could not start

    with pytest.raises(WorkflowError, match="port is already allocated"):
        startup.time_to_first_200(run, "app0", "broken:1")

    assert engine.removed == ["gemini-bench-r1-app0"]
