"""Sessions for linting, unit tests, container smoke tests and benchmarks.

Run `nox` for the default list (lint, tests, smoke, reliability, deploy), `nox -s NAME -- ARGS`
to pass arguments through to the underlying tool. `nox -s bench` and `nox -s audit` run only
when named.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
# uv, not "uv|virtualenv": every session installs with `uv sync --frozen` (see install()).
nox.options.default_venv_backend = "uv"
# reliability (about 7 minutes, 3 of them the soak) and deploy (about 3) fit CI's budget, so CI
# runs them; `nox -s bench` measures rather than tests and stays out of the default list.
nox.options.sessions = ["lint", "tests", "smoke", "reliability", "deploy"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
LOCATIONS = ["src", "tests", "noxfile.py", "tasks.py"]


def install(session: nox.Session, *groups: str, extras: tuple[str, ...] = ()) -> None:
    """Install the project with these dependency groups at exactly the versions uv.lock pins.

    `python -m uv` from nox's own environment (the project's .venv): the pinned uv, never
    whichever uv happens to be on PATH. The `dev` group (invoke, docker, rich) comes by default.
    """
    session.run_install(
        sys.executable,
        "-m",
        "uv",
        "sync",
        "--frozen",
        *(f"--group={group}" for group in groups),
        *(f"--extra={extra}" for extra in extras),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint Python (ruff, mypy), the Dockerfiles (hadolint) and the GitHub workflows.

    The workflows cannot run here, so they are checked offline: against GitHub's schema
    (check-jsonschema ships it) and for security mistakes (zizmor --offline).
    """
    install(session, "lint", "test", "deploy", extras=("legacy",))
    args = session.posargs or LOCATIONS
    session.run("ruff", "check", *args)
    session.run("ruff", "format", "--check", *args)
    session.run("mypy")
    session.run("hadolint", "--config", "containers/hadolint.yaml", *dockerfiles(), external=False)
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.y*ml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("zizmor", "--offline", ".github/workflows")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the unit tests with coverage (real SDKs against the fake over a socket).

    The deploy group: the rendered Kubernetes manifests are validated offline in these tests.
    """
    install(session, "test", "deploy", extras=("legacy",))
    session.run(
        "coverage",
        "run",
        "-m",
        "pytest",
        "tests",
        "--ignore=tests/smoke",
        "--ignore=tests/reliability",
        "--ignore=tests/deploy",
        *session.posargs,
    )
    session.run("coverage", "combine", "--quiet")  # one data file per measured process
    session.run("coverage", "report")


@nox.session(python=PYTHON)
def smoke(session: nox.Session) -> None:
    """Build the images and test the real containers, stack and registry on a real engine."""
    install(session, "test")
    host_ready(session)
    session.run("pytest", "tests/smoke", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Measure size, rebuild, startup, latency and throughput; print a table, write JSON."""
    install(session, extras=("legacy",))
    host_ready(session)
    session.run("python", "-m", "gemini_workflow.bench", *session.posargs)


@nox.session(python=PYTHON)
def reliability(session: nox.Session) -> None:
    """Break a running stack on purpose: soak, outages, crashes, hostile input, key leaks."""
    install(session, "test", "reliability")
    host_ready(session)
    session.run("pytest", "tests/reliability", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def deploy(session: nox.Session) -> None:
    """Deploy to a real single-node swarm: roll, roll back, kill a task, remove; under load."""
    install(session, "test")
    host_ready(session)
    session.run("pytest", "tests/deploy", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON, default=False)
def audit(session: nox.Session) -> None:
    """Known vulnerabilities of the image lock (pip-audit); needs the advisory service (PyPI).

    Not in the default list or CI: it depends on a service outside the project, and this
    machine kind may not reach it. Scanning the SBOMs elsewhere: docs/releasing.md.
    """
    install(session, "audit")
    session.run("python", "-m", "gemini_workflow.audit", *session.posargs)


def host_ready(session: nox.Session) -> None:
    """The engine, plugins, base images and test tools (wrk, Chromium) this session drives.

    `invoke bootstrap` changes nothing where all is there (about a second), so a session run
    on its own works as well as one after the Quickstart.
    """
    session.run("invoke", "bootstrap", "--test-tools")


def dockerfiles() -> list[str]:
    """Every Dockerfile under containers/ (subfolders too), so a new one is linted as it is."""
    return sorted(str(p) for p in Path("containers").rglob("*Dockerfile*"))
