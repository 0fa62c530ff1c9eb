"""Row (8): `invoke dev`'s edit-to-served, its build + up reference, and what is removed."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import dev_drive
from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import dev_loop
from gemini_workflow.errors import WorkflowError
from tests.gemini_workflow.bench.support import IMAGES, SETUP, FakeEngine, make_run


def test_the_loop_is_judged_against_build_and_up_over_at_least_three_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[Path] = []
    monkeypatch.setattr(dev_loop, "build_setup", lambda _root: SETUP)
    monkeypatch.setattr(dev_loop, "stack_images", lambda _run, _setup: IMAGES)
    monkeypatch.setattr(dev_loop.dev_drive, "copy_tree", lambda _root, tree: copied.append(tree))
    monkeypatch.setattr(dev_loop, "dev_edits", lambda _r, _t, _i, edits: [2.0] * edits)
    monkeypatch.setattr(dev_loop, "rebuild_edits", lambda _r, _s, _t, _i, edits: [9.0] * edits)
    report = Report()

    dev_loop.measure(make_run(tmp_path, runs=1), report)

    (figure,) = report.figures
    assert figure.reference is not None
    assert (figure.value.runs, figure.reference.median, figure.met) == ((2.0,) * 3, 9.0, True)
    assert copied == [tmp_path / "work" / "dev-tree"]


class FakeDev:
    """`invoke dev` as the section sees it: ready, serving edits, stopped by Ctrl-C."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.signals: list[int] = []
        self.killed = False
        self.url = "http://127.0.0.1:1"

    def wait_ready(self) -> float:
        return 1.0

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.signals.append(signum)
        return self.code

    def output(self) -> str:
        return "stopping: removing the dev stack"

    def kill(self) -> None:
        self.killed = True


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], tuple[FakeDev, list[Any]]]:
    def install(code: int) -> tuple[FakeDev, list[Any]]:
        fake, calls = FakeDev(code), []

        def start(tree: Path, **options: Any) -> FakeDev:
            calls.append(options)
            return fake

        monkeypatch.setattr(dev_loop.dev_drive, "start", start)
        monkeypatch.setattr(dev_loop.dev_drive, "edit_to_served", lambda *_a, **_k: 1.5)
        return fake, calls

    return install


def test_invoke_dev_runs_on_the_run_s_images_and_is_stopped_with_ctrl_c(
    tmp_path: Path,
    started: Callable[[int], tuple[FakeDev, list[Any]]],
    fake_compose: Callable[[str, int], list[list[str]]],
) -> None:
    fake, options = started(0)
    compose = fake_compose("", 0)
    engine = FakeEngine()

    seconds = dev_loop.dev_edits(make_run(tmp_path, engine), tmp_path, IMAGES, 3)

    assert seconds == [1.5] * 3
    assert fake.signals == [signal.SIGINT]
    (call,) = options
    assert (call["project"], call["app_image"], call["fake_image"]) == (
        "gs-bench-r1-dev",
        "app:1",
        "fake:1",
    )
    # whatever happened, the project and the dev tag are removed after it
    assert compose == [["down", "--remove-orphans", "--timeout", "5"]]
    assert engine.removed == ["gemini-service:dev-gs-bench-r1-dev"]


def test_a_loop_that_does_not_exit_cleanly_fails_the_section(
    tmp_path: Path,
    started: Callable[[int], tuple[FakeDev, list[Any]]],
    fake_compose: Callable[[str, int], list[list[str]]],
) -> None:
    started(1)
    fake_compose("", 0)
    with pytest.raises(WorkflowError, match="invoke dev exited 1 on Ctrl-C"):
        dev_loop.dev_edits(make_run(tmp_path), tmp_path, IMAGES, 3)


def test_the_reference_builds_the_edit_and_recreates_the_app_with_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_compose: Callable[[str, int], list[list[str]]],
) -> None:
    built: list[tuple[str, str]] = []
    served: list[str] = []
    (tmp_path / dev_drive.EDITED).parent.mkdir(parents=True)
    (tmp_path / dev_drive.EDITED).write_text('    status: Literal["ok"] = "ok"\n')
    monkeypatch.setattr(
        dev_loop, "build", lambda _s, tree, tag, target: built.append((tag, target)) or 1.0
    )
    monkeypatch.setattr(
        dev_loop.dev_drive, "wait_served", lambda url, marker, timeout: served.append(marker)
    )
    compose = fake_compose("healthy", 0)

    seconds = dev_loop.rebuild_edits(make_run(tmp_path), SETUP, tmp_path, IMAGES, 2)

    assert len(seconds) == 2
    assert built == [("gemini-bench:r1-devref0", "app"), ("gemini-bench:r1-devref1", "app")]
    assert served == ["bench-r1-ref0", "bench-r1-ref1"]
    assert '"bench-r1-ref1"' in (tmp_path / dev_drive.EDITED).read_text()
    # started, brought up to date after each build, removed at the end
    assert [call[0] for call in compose] == ["up", "up", "up", "down"]
