"""Driving `invoke dev` from outside: the copy, the edit, the wait for it, the stop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemini_workflow import dev_drive
from gemini_workflow.config import ROOT
from gemini_workflow.dev import READY
from gemini_workflow.errors import WorkflowError
from tests.gemini_workflow.stack_support import answering

SCHEMA = 'class HealthResponse(BaseModel):\n    status: Literal["ok"] = "ok"\n'


def test_the_edit_changes_what_health_answers_in_the_real_schema(tmp_path: Path) -> None:
    (tmp_path / dev_drive.EDITED).parent.mkdir(parents=True)
    (tmp_path / dev_drive.EDITED).write_text((ROOT / dev_drive.EDITED).read_text())
    dev_drive.mark_health(tmp_path, "edit-1")
    dev_drive.mark_health(tmp_path, "edit-2")  # again, over the previous edit
    assert 'status: Literal["edit-2"] = "edit-2"' in (tmp_path / dev_drive.EDITED).read_text()


def test_an_edit_that_no_longer_applies_says_what_to_update(tmp_path: Path) -> None:
    (tmp_path / dev_drive.EDITED).parent.mkdir(parents=True)
    (tmp_path / dev_drive.EDITED).write_text("class HealthResponse: pass\n")
    with pytest.raises(WorkflowError, match="update HEALTH_DEFAULT"):
        dev_drive.mark_health(tmp_path, "x")


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[str]:
    """A stand-in for the stack: /health answers the status the tree's schema has now."""
    path = tmp_path / dev_drive.EDITED
    path.parent.mkdir(parents=True)
    path.write_text(SCHEMA)

    def status() -> dict[str, str | None]:
        found = re.search(r'= "([^"]*)"', path.read_text())
        return {"status": found.group(1) if found else None}

    with answering(200, status) as url:
        yield url


def test_edit_to_served_waits_for_the_answer_that_carries_the_edit(
    tmp_path: Path, serving: str
) -> None:
    assert dev_drive.health_status(serving) == "ok"
    seconds = dev_drive.edit_to_served(tmp_path, serving, "edited", timeout=10)
    assert 0 < seconds < 5
    assert dev_drive.health_status(serving) == "edited"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout


def test_the_copy_is_a_clone_with_the_working_tree_and_local_config_on_top(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / ".gitignore").write_text("invoke.yaml\nbuild/\n")
    (source / "a.txt").write_text("committed\n")
    git(source, "init", "-q")
    git(source, "add", ".")
    git(source, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    (source / "a.txt").write_text("changed, not committed\n")
    (source / "new.txt").write_text("new\n")
    (source / "invoke.yaml").write_text("offline: true\n")
    (source / "build").mkdir()
    (source / "build" / "big.bin").write_text("not needed\n")

    dev_drive.copy_tree(source, tmp_path / "copy")

    copy = tmp_path / "copy"
    assert git(copy, "rev-parse", "HEAD") == git(source, "rev-parse", "HEAD")
    assert (copy / "a.txt").read_text() == "changed, not committed\n"
    assert (copy / "new.txt").read_text() == "new\n"
    assert (copy / "invoke.yaml").read_text() == "offline: true\n"
    assert not (copy / "build").exists()


STAND_IN = (
    "import signal, sys, time; signal.signal(signal.SIGINT, lambda *_: sys.exit(0));"
    f" print({READY!r}, flush=True); time.sleep(60)"
)


def stand_in(tmp_path: Path, script: str) -> dev_drive.DevProcess:
    log = tmp_path / "dev.log"
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=sink, text=True)
    return dev_drive.DevProcess(process, log, "http://127.0.0.1:1", "p")


def test_ready_then_ctrl_c_gives_the_exit_code(tmp_path: Path) -> None:
    process = stand_in(tmp_path, STAND_IN)
    try:
        assert process.wait_ready(timeout=20) < 20
        assert process.stop(signal.SIGINT, timeout=20) == 0
    finally:
        process.kill()


def test_an_exit_before_ready_fails_at_once_with_the_output(tmp_path: Path) -> None:
    process = stand_in(tmp_path, "import sys; print('port 8080 is in use'); sys.exit(1)")
    with pytest.raises(WorkflowError, match=r"(?s)exited \(1\) before it was ready.*in use"):
        process.wait_ready(timeout=20)
