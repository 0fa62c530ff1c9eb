"""The engine boundary: the exact build command, and clear errors when there is no engine."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import docker_engine
from gemini_workflow.errors import WorkflowError

SPEC = docker_engine.BuildSpec(
    context=Path("/repo"),
    dockerfile=Path("/repo/containers/Dockerfile"),
    target="app",
    tags=["svc:1.0", "svc:sha-abc1234"],
    build_args={"VERSION": "1.0", "PYTHON_BASE": "python:3.11"},
)


def test_build_command_loads_one_target_with_tags_and_sorted_args() -> None:
    assert docker_engine.build_command(SPEC) == [
        "docker", "buildx", "build", "--load", "--file", "/repo/containers/Dockerfile",
        "--target", "app", "--tag", "svc:1.0", "--tag", "svc:sha-abc1234",
        "--build-arg", "PYTHON_BASE=python:3.11", "--build-arg", "VERSION=1.0", "/repo",
    ]  # fmt: skip


def test_offline_build_has_no_network_and_no_cache_when_asked() -> None:
    spec = docker_engine.BuildSpec(**{**SPEC.__dict__, "network": "none", "no_cache": True})
    command = docker_engine.build_command(spec)
    assert command[-4:] == ["--no-cache", "--network", "none", "/repo"]


def test_unreachable_engine_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(docker_engine.EngineUnavailable, match="invoke bootstrap"):
        docker_engine.connect()


class Completed:
    def __init__(self, returncode: int, stderr: str = "") -> None:
        self.returncode = returncode
        self.stderr = stderr


def fake_run(results: list[Completed], calls: list[list[str]]) -> Any:
    def run(cmd: list[str], **kwargs: Any) -> Completed:
        calls.append(cmd)
        return results.pop(0)

    return run


def test_missing_buildx_says_run_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(1)], []))
    with pytest.raises(docker_engine.EngineUnavailable, match="buildx plugin is missing"):
        docker_engine.build(SPEC)


def test_failed_quiet_build_shows_the_tail_of_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    output = "\n".join(f"line {i}" for i in range(40)) + "\nERROR: no space left"
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(0), Completed(1, output)], calls))
    with pytest.raises(WorkflowError, match=r"(?s)target `app` failed.*no space left") as error:
        docker_engine.build(SPEC, quiet=True)
    assert "line 5\n" not in str(error.value)  # only the tail
    assert calls[1][3:5] == ["--progress", "plain"]


def test_successful_build_returns_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(0), Completed(0)], []))
    docker_engine.build(SPEC)


def test_failed_pull_raises_with_the_engines_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(1, "no such host")], []))
    with pytest.raises(WorkflowError, match="no such host"):
        docker_engine.pull_image("python:3.11")
