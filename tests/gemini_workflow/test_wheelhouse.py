"""The offline wheelhouse: what is downloaded, with which pip, and when it is stale."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.config import Config
from invoke.context import Context, MockContext
from invoke.runners import Result
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

from gemini_workflow import lockfile, wheelhouse
from gemini_workflow.wheelhouse import WHEELHOUSE

ROOT = Path(__file__).resolve().parents[2]


def project(tmp_path: Path) -> Path:
    (tmp_path / "containers").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for lock in lockfile.IMAGE_LOCKS:
        shutil.copy(ROOT / lock, tmp_path / lock)
    return tmp_path


def test_the_lock_is_downloaded_hash_checked_without_resolving_again(tmp_path: Path) -> None:
    root = project(tmp_path)
    locked, backend = wheelhouse.download_commands(root, "3.11", "/venv/bin/python")
    assert locked.startswith("/venv/bin/python -m pip download")
    assert f"--no-deps --require-hashes -r {root / lockfile.LOCK}" in locked
    assert "--only-binary=:all:" in locked
    assert "--platform manylinux2014_x86_64" in locked
    assert "--python-version 3.11 --implementation cp" in locked
    assert f"--no-deps --require-hashes -r {root / lockfile.BUILD_LOCK}" in backend


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


# --- with the pip a fresh machine has (downloads from PyPI) ------------------------------------


@pytest.fixture(scope="module")
def bundled_pip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Version]:
    """A venv made exactly as `python3 -m venv` makes it, with the pip Python bundles."""
    venv = tmp_path_factory.mktemp("fresh-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    version = subprocess.run(
        [python, "-c", "import pip; print(pip.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return python, Version(version.strip())


def locked_for_linux(lock: Path) -> set[str]:
    """Names of the locked packages this image's platform installs (markers evaluated)."""
    target = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.11"}
    names = set()
    for line in lock.read_text().splitlines():
        if not line or line[0] in " #":
            continue
        pin, _, marker = line.rstrip(" \\").partition(";")
        if not marker.strip() or Marker(marker.strip()).evaluate(target):
            names.add(canonicalize_name(pin.split("==")[0]))
    return names


def test_the_lock_downloads_with_the_pip_a_fresh_venv_bundles(
    tmp_path: Path, bundled_pip: tuple[str, Version]
) -> None:
    root = project(tmp_path)
    python, _ = bundled_pip
    quiet = Context(Config(overrides={"run": {"in_stream": False}}))  # no stdin under pytest
    wheelhouse.fill(quiet, root, "3.11", python=python)
    wheels = {
        canonicalize_name(whl.name.split("-")[0]) for whl in (root / WHEELHOUSE).glob("*.whl")
    }
    assert locked_for_linux(root / lockfile.LOCK) <= wheels
    assert "hatchling" in wheels
    assert wheelhouse.is_current(root, "3.11")


def test_resolving_the_lock_again_is_what_breaks_that_pip(
    tmp_path: Path, bundled_pip: tuple[str, Version]
) -> None:
    """The control: without --no-deps, a pip before 24 fails as issue 9 reported."""
    root = project(tmp_path)
    python, version = bundled_pip
    locked = wheelhouse.download_commands(root, "3.11", python)[0].replace("--no-deps ", "")
    result = subprocess.run(shlex.split(locked), capture_output=True, text=True, check=False)
    if version < Version("24"):
        assert result.returncode != 0
        assert "must have their versions pinned with ==" in result.stderr
        assert "google-auth[requests]" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
