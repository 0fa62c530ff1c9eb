"""Issue 10 figures: `invoke deploy` as a user runs it, under load, judged by "0 failed"."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import loadgen
from gemini_workflow.bench import swarm_deploy
from gemini_workflow.bench.load import Target
from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import deploy
from gemini_workflow.errors import WorkflowError
from gemini_workflow.stack import FAKE_UPSTREAM


def where(tmp_path: Path) -> swarm_deploy.Deployment:
    keys = tmp_path / "keys"
    keys.write_text("k1\n")
    return swarm_deploy.Deployment("gs-bench-r1", 4321, keys, tmp_path, ("app:1", "fake:1"))


def test_invoke_gets_no_key_or_config_of_the_callers_and_the_fake_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "a-real-key")
    monkeypatch.setenv("INVOKE_DEPLOY_PORT", "8080")

    env = where(tmp_path).environment()

    assert "GEMINI_API_KEY" not in env
    assert "INVOKE_DEPLOY_PORT" not in env
    assert env["INVOKE_STACK_UPSTREAM"] == FAKE_UPSTREAM
    assert env["INVOKE_DEPLOY_STACK"] == "gs-bench-r1"
    assert env["INVOKE_DEPLOY_FAKE_IMAGE"] == "fake:1"
    assert where(tmp_path).target().headers["Authorization"] == "Bearer k1"


def answer(requests: int, ok: int, socket_errors: int = 0) -> loadgen.LoadResult:
    statuses = {200: ok, **({502: requests - ok} if requests > ok else {})}
    return loadgen.LoadResult(requests, 2.0, {"connect": socket_errors}, {"p50": 1.0}, statuses)


def test_load_runs_in_pieces_until_the_task_ends_and_adds_up_every_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    finish = threading.Event()
    pieces = [answer(100, 100), answer(100, 98, socket_errors=1), answer(50, 50)]

    def run(url: str, **_: Any) -> loadgen.LoadResult:
        piece = pieces.pop(0) if pieces else answer(0, 0)
        if not pieces:
            finish.set()
        return piece

    monkeypatch.setattr(loadgen, "run", run)

    def task() -> str:
        finish.wait(10)
        return "deployed"

    done, totals = swarm_deploy.under_load(Target("http://127.0.0.1:1", "/generate", "{}"), task)

    assert done == "deployed"
    assert (totals.requests, totals.failed) == (250, 3)
    assert totals.statuses == {200: 248, 502: 2}


def test_a_failing_task_fails_the_load_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen, "run", lambda url, **_: answer(1, 1))

    def task() -> None:
        raise WorkflowError("deploy broke")

    with pytest.raises(WorkflowError, match="deploy broke"):
        swarm_deploy.under_load(Target("http://127.0.0.1:1", "/generate", "{}"), task)


class Stub(swarm_deploy.Deployment):
    """`invoke` answers as given; no process runs."""

    def invoke(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        code, stderr = self.answers[args[-1]]  # type: ignore[attr-defined]
        return 12.5, subprocess.CompletedProcess(list(args), code, "", stderr)


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    monkeypatch.setattr(loadgen, "run", lambda url, **_: answer(10, 10))
    made = Stub("gs-bench-r1", 1, tmp_path / "keys", tmp_path, ("app:1", "fake:1"))
    made.keys.write_text("k1\n")
    object.__setattr__(
        made,
        "answers",
        {
            "good": (0, ""),
            "bad": (1, "release bad failed its health check and swarm rolled back\nby itself"),
            "refused": (1, "bad is not in the registry: push it first"),
        },
    )
    return made


def test_a_roll_is_its_wall_time_and_what_the_load_saw(stub: Stub) -> None:
    assert deploy.roll(stub, "good", succeed=True) == deploy.Roll(12.5, 10, 0)
    assert deploy.roll(stub, "bad", succeed=False).seconds == 12.5


def test_a_bad_release_must_be_rolled_back_not_merely_refused(stub: Stub) -> None:
    with pytest.raises(WorkflowError, match="refused, but not rolled back"):
        deploy.roll(stub, "refused", succeed=False)
    with pytest.raises(WorkflowError, match="succeeded"):
        deploy.roll(stub, "good", succeed=False)


def test_one_failed_request_in_any_update_fails_the_goal() -> None:
    report = Report()
    updates = [deploy.Roll(30.0, 1000, 0), deploy.Roll(31.0, 1000, 1), deploy.Roll(32.0, 990, 0)]

    deploy.add_figures(report, 5.0, 4.0, updates, deploy.Roll(18.0, 500, 0))

    figures = {f.key: f for f in report.figures}
    assert figures["failed_during_update"].met is False  # the median is 0, one run is not
    assert figures["failed_during_rollback"].met is True
    assert figures["rolling_update"].value.median == 31.0
    assert figures["deploy_to_healthy"].reference is not None
    assert figures["deploy_to_healthy"].reference.median == 4.0
