"""The runtime venv: the image's lock, hash-checked, then the project alone, byte-compiled."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemini_workflow.bench import runtime
from gemini_workflow.errors import WorkflowError


def test_offline_installs_only_from_the_wheelhouse(tmp_path: Path) -> None:
    (tmp_path / runtime.WHEELHOUSE).mkdir(parents=True)

    venv, lock, project = runtime.install_commands(tmp_path, tmp_path / "venv", offline=True)

    assert "venv" in venv
    for command in (lock, project):
        assert command[command.index("--find-links") + 1] == str(tmp_path / runtime.WHEELHOUSE)
        assert "--no-index" in command
        assert {"--no-deps", "--compile-bytecode", "--no-cache"} <= set(command)
    assert lock[-3:] == ["--require-hashes", "-r", str(tmp_path / runtime.LOCK)]
    assert project[-1] == str(tmp_path)


def test_online_uses_the_index(tmp_path: Path) -> None:
    commands = runtime.install_commands(tmp_path, tmp_path / "venv", offline=False)

    assert not any("--no-index" in command for command in commands)


def test_offline_without_a_wheelhouse_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="invoke bootstrap"):
        runtime.index_options(tmp_path, offline=True)
