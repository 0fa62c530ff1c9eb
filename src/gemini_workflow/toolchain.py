"""The tools the workflow calls, the oldest version of each it works with, and one check.

A newcomer's first command once failed on every fresh Python while CI was green, because CI's
pip had been upgraded by hand. So nothing is assumed: the Python tools are pinned by uv.lock
and must be the ones of the environment running the workflow (their minimums are the `dev`
group in pyproject.toml, read from there), and the host's own tools are probed against the
minimums below before `invoke bootstrap` spends minutes on work that would fail later.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from invoke.context import Context
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from gemini_workflow import debian
from gemini_workflow.errors import WorkflowError

QUICKSTART_FIX = (
    "create the project environment with the README Quickstart's first command and run the"
    " tasks as `.venv/bin/invoke ...` (or after `. .venv/bin/activate`)"
)


class ToolchainError(WorkflowError):
    """A tool is missing or too old; the message lists every such tool and the fix."""


@dataclass(frozen=True)
class HostTool:
    """A program on the host that the workflow shells out to."""

    name: str
    probe: str  # a command printing the version
    minimum: Version
    needed_for: str
    fix: str
    bootstrap_installs: bool = False
    """Missing is fine where bootstrap can install it (root on Debian): it will."""


HOST_TOOLS = (
    HostTool(
        "git",
        "git --version",
        Version("2.20"),
        "source labels and tags (rev-parse, status, log)",
        "install a newer git (`apt-get install git`)",
    ),
    HostTool(
        "docker CLI",
        "docker version --format '{{.Client.Version}}'",
        Version("20.10"),
        "buildx and compose plugins, image builds",
        "install Docker's CLI 20.10 or newer (Docker Desktop, or `invoke bootstrap` as root)",
        bootstrap_installs=True,
    ),
)


def version_in(text: str) -> Version | None:
    """The first x.y[.z] in a tool's output (`v2.40.3`, `0.29.1+ds1`, `20.10.24+dfsg1`)."""
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", text)
    if not match:
        return None
    try:
        return Version(match[1])
    except InvalidVersion:
        return None


def python_tool_problems(
    pyproject: Path, installed: Callable[[str], str | None] | None = None
) -> list[str]:
    """Every `dev` group tool missing from, or too old in, the running environment."""
    installed = installed or _installed_version
    groups = tomllib.loads(pyproject.read_text())["dependency-groups"]
    problems = []
    for requirement in (Requirement(spec) for spec in groups["dev"] if isinstance(spec, str)):
        have = installed(requirement.name)
        if have is None:
            problems.append(f"{requirement.name} is not installed in {sys.prefix}")
        elif not requirement.specifier.contains(have, prereleases=True):
            problems.append(
                f"{requirement.name} {have} in {sys.prefix} does not satisfy {requirement}"
            )
    return problems


def host_tool_problems(c: Context, tools: Iterable[HostTool] = HOST_TOOLS) -> list[str]:
    problems = []
    for tool in tools:
        result = c.run(tool.probe, hide=True, warn=True)
        have = version_in(str(result.stdout)) if result.ok else None
        if have is None and tool.bootstrap_installs and debian.is_debian_root():
            continue
        if have is None:
            problems.append(f"{tool.name} is missing (needed for {tool.needed_for}): {tool.fix}")
        elif have < tool.minimum:
            problems.append(
                f"{tool.name} {have} is older than {tool.minimum} (needed for {tool.needed_for}):"
                f" {tool.fix}"
            )
    return problems


def check(c: Context, root: Path) -> str:
    """Raise ToolchainError listing every problem; otherwise a one-line account of versions."""
    python_problems = python_tool_problems(root / "pyproject.toml")
    problems = [*python_problems, *host_tool_problems(c)]
    if problems:
        fix = f"\nfor the Python tools: {QUICKSTART_FIX}" if python_problems else ""
        raise ToolchainError("the toolchain is not ready:\n  " + "\n  ".join(problems) + fix)
    pip, uv = _installed_version("pip"), _installed_version("uv")
    return f"pip {pip}, uv {uv} in {Path(sys.prefix).name}; git and docker CLI recent enough"


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
