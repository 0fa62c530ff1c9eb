"""The offline wheelhouse: what is downloaded, with which pip, and when it is stale."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from invoke.context import MockContext
from invoke.runners import Result

from gemini_workflow import lockfile, wheelhouse

ROOT = Path(__file__).resolve().parents[2]


def project(tmp_path: Path) -> Path:
    (tmp_path / "containers").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / lockfile.LOCK, tmp_path / lockfile.LOCK)
    return tmp_path


def test_the_lock_is_downloaded_hash_checked_without_resolving_again(tmp_path: Path) -> None:
    root = project(tmp_path)
    locked, backend = wheelhouse.download_commands(root, "3.11", "/venv/bin/python")
    assert locked.startswith("/venv/bin/python -m pip download")
    assert f"--no-deps --require-hashes -r {root / lockfile.LOCK}" in locked
    assert "--only-binary=:all:" in locked
    assert "--platform manylinux2014_x86_64" in locked
    assert "--python-version 3.11 --implementation cp" in locked
    assert "hatchling" in backend
    assert "--require-hashes" not in backend


def test_fill_uses_the_running_environment_s_pip_and_stamps_the_inputs(tmp_path: Path) -> None:
    root = project(tmp_path)
    c = MockContext(run={re.compile(r".* -m pip download"): Result()}, repeat=True)
    wheelhouse.fill(c, root, "3.11")
    ran = [call.args[0] for call in c.run.call_args_list]
    assert all(command.startswith(f"{sys.executable} -m pip download") for command in ran)
    assert (root / wheelhouse.STAMP).read_text().strip() == wheelhouse.digest(root, "3.11")


def test_a_wheelhouse_is_current_only_for_the_lock_it_was_filled_from(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert not wheelhouse.is_current(root, "3.11")
    (root / wheelhouse.WHEELHOUSE).mkdir(parents=True)
    (root / wheelhouse.WHEELHOUSE / "x-1-py3-none-any.whl").write_text("")
    (root / wheelhouse.STAMP).write_text(wheelhouse.digest(root, "3.11"))
    assert wheelhouse.is_current(root, "3.11")
    assert not wheelhouse.is_current(root, "3.12")
    (root / lockfile.LOCK).write_text("changed\n")
    assert not wheelhouse.is_current(root, "3.11")
