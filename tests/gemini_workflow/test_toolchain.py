"""The toolchain check: Python tools from the project environment, host tools by version."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from invoke.context import MockContext
from invoke.runners import Result
from packaging.version import Version

from gemini_workflow import toolchain

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Docker Compose version v2.40.3", "2.40.3"),
        ("github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4", "0.29.1"),
        ("20.10.24+dfsg1", "20.10.24"),
        ("git version 2.39.5", "2.39.5"),
        ("no version here", None),
    ],
)
def test_versions_are_read_from_tool_output(output: str, version: str | None) -> None:
    assert toolchain.version_in(output) == (Version(version) if version else None)


def installed_but(**overrides: str | None) -> Callable[[str], str | None]:
    """The running environment's versions, with some replaced (None: not installed)."""
    return lambda name: overrides[name] if name in overrides else metadata.version(name)


def test_the_bundled_pip_of_a_fresh_venv_is_refused_with_the_quickstart_fix() -> None:
    problems = toolchain.python_tool_problems(PYPROJECT, installed_but(pip="23.2.1"))
    assert len(problems) == 1
    assert re.fullmatch(r"pip 23\.2\.1 in .* does not satisfy pip>=\d+\.\d+", problems[0])


def test_a_missing_tool_is_named() -> None:
    problems = toolchain.python_tool_problems(PYPROJECT, installed_but(nox=None))
    assert problems == [f"nox is not installed in {toolchain.sys.prefix}"]


def test_the_project_environment_itself_passes() -> None:
    assert toolchain.python_tool_problems(PYPROJECT) == []


def test_old_or_missing_host_tools_are_listed_with_their_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(toolchain.debian, "is_debian_root", lambda: False)
    c = MockContext(
        run={
            re.compile("^git --version"): Result("git version 2.11.0\n"),
            re.compile("^docker version"): Result(exited=127),
        }
    )
    problems = toolchain.host_tool_problems(c)
    assert problems[0].startswith("git 2.11.0 is older than 2.20")
    assert problems[1].startswith("docker CLI is missing")


def test_a_missing_docker_cli_is_fine_where_bootstrap_installs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(toolchain.debian, "is_debian_root", lambda: True)
    c = MockContext(
        run={
            re.compile("^git --version"): Result("git version 2.39.5\n"),
            re.compile("^docker version"): Result(exited=127),
        }
    )
    assert toolchain.host_tool_problems(c) == []


def test_check_raises_with_every_problem_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "python_tool_problems", lambda p: ["pip 23.2.1 is old"])
    c = MockContext(
        run={
            re.compile("^git --version"): Result("git version 2.39.5\n"),
            re.compile("^docker version"): Result("28.2.2\n"),
        }
    )
    with pytest.raises(toolchain.ToolchainError, match=r"pip 23\.2\.1 is old\n.*Quickstart"):
        toolchain.check(c, ROOT)
