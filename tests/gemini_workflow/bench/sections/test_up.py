"""Row (5): `invoke up` as a person runs it, next to the harness's `compose up --wait`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import config
from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import up
from gemini_workflow.errors import WorkflowError
from gemini_workflow.stack import FAKE_UPSTREAM, read_env_file
from tests.gemini_workflow.bench.support import IMAGES, SETUP, make_run


@pytest.fixture
def invoked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append({"cmd": cmd, **kwargs})
        code = 1 if kwargs["env"].get("BENCH_TEST_FAIL") else 0
        return subprocess.CompletedProcess(cmd, code, "starting\n", "missing gemini-bench:x")

    monkeypatch.setattr(up.subprocess, "run", run)
    return calls


def test_invoke_up_follows_the_plan_and_never_sees_the_real_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoked: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "real-key")
    monkeypatch.setenv("GEMINI_API_KEY_FILE", "/home/me/key")
    plan = make_run(tmp_path).stack_plan("up0", IMAGES, {"LOG_LEVEL": "debug"})

    assert up.invoke_up_seconds(plan) >= 0

    (call,) = invoked
    assert call["cmd"] == [
        sys.executable, "-m", "invoke", "up", "--no-build", "--port", str(plan.port)
    ]  # fmt: skip
    assert call["cwd"] == config.ROOT  # where tasks.py is
    env = call["env"]
    assert "GEMINI_API_KEY" not in env
    assert "GEMINI_API_KEY_FILE" not in env
    assert env["INVOKE_STACK_PROJECT"] == plan.project
    assert env["INVOKE_STACK_ENV"] == str(plan.env_file)
    assert (env["INVOKE_STACK_APP_IMAGE"], env["INVOKE_STACK_FAKE_IMAGE"]) == ("app:1", "fake:1")


def test_a_failed_invoke_up_raises_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoked: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("BENCH_TEST_FAIL", "1")
    plan = make_run(tmp_path).stack_plan("up0", IMAGES, {})

    with pytest.raises(WorkflowError, match=r"(?s)invoke up.*exit 1.*missing gemini-bench:x"):
        up.invoke_up_seconds(plan)


def test_up_section_times_invoke_up_against_bare_compose_and_removes_both(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_compose: Callable[[str, int], list[list[str]]],
) -> None:
    calls = fake_compose("healthy", 0)
    env_files: list[dict[str, str]] = []

    def invoke_up(plan: Any) -> float:
        env_files.append(read_env_file(plan.env_file))
        return 6.0

    monkeypatch.setattr(up, "build_setup", lambda _root: SETUP)
    monkeypatch.setattr(up, "stack_images", lambda _run, _setup: IMAGES)
    monkeypatch.setattr(up, "invoke_up_seconds", invoke_up)
    run = make_run(tmp_path, runs=2)
    report = Report()

    up.measure(run, report)

    (figure,) = report.figures
    assert figure.reference is not None
    assert (figure.value.median, figure.met) == (6.0, True)
    assert 0 < figure.reference.median < 6.0  # the fake compose's own time
    # invoke up's default environment (dev.env), with the upstream pinned to the fake
    dev = read_env_file(config.ROOT / "compose" / "env" / "dev.env")
    assert env_files == [{"GEMINI_UPSTREAM": FAKE_UPSTREAM, **dev}] * 2
    # each run: invoke's stack removed, then the reference started and removed
    assert [call[0] for call in calls] == ["down", "up", "down"] * 2
