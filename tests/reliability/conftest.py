"""Fixtures for `nox -s reliability`: the real images in real compose stacks, a canary key.

Every stack is the project's compose file (compose/compose.yaml) under a unique project
name, on a free loopback port, with a small overlay that also publishes gemini-app and
fake-gemini on ephemeral loopback ports. The API key is a canary: at teardown every stack's
logs and container configuration are searched for it before the stack is removed, so a leak
in any scenario fails the run. Teardown always runs, whatever the test did.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from traffic import CANARY_KEY, StackImages, leaks

from gemini_workflow import bench_measure, images

StackFactory = Callable[[str, dict[str, str]], bench_measure.Stack]


@pytest.fixture(scope="session")
def stack_images() -> StackImages:
    """The app and fake images exactly as `invoke build` makes them (cached when unchanged)."""
    config = bench_measure.invoke_config()
    request = images.request_from_config(config, root=bench_measure.ROOT, quiet=True)
    reports = {report.target: report for report in images.build_images(request)}
    return StackImages(
        app=reports["app"].tags[-1],
        fake=reports["fake"].tags[-1],
        proxy=str(config["images"]["nginx"]),
    )


@pytest.fixture(scope="session")
def make_stack(stack_images: StackImages) -> Iterator[StackFactory]:
    """Start a stack with the given env file contents; all are checked and removed at the end."""
    started: list[bench_measure.Stack] = []
    workdirs: list[tempfile.TemporaryDirectory[str]] = []

    def start(name: str, env: dict[str, str]) -> bench_measure.Stack:
        workdir = tempfile.TemporaryDirectory(prefix=f"gs-rel-{name}-")
        workdirs.append(workdir)
        stack = bench_measure.Stack(
            Path(workdir.name),
            stack_images.proxy,
            stack_images.app,
            stack_images.fake,
            project=f"gs-rel-{name}-{secrets.token_hex(3)}",
            key=CANARY_KEY,
        )
        started.append(stack)
        stack.up(env)
        return stack

    yield start

    found: list[str] = []
    try:
        for stack in started:
            try:
                found += [f"{stack.project}: {leak}" for leak in leaks(stack, CANARY_KEY)]
            except Exception as exc:
                found.append(f"{stack.project}: could not be scanned ({exc})")
    finally:
        for stack in started:
            stack.down()
        for workdir in workdirs:
            workdir.cleanup()
    assert not found, "the canary API key leaked:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def clean_stack(make_stack: StackFactory) -> bench_measure.Stack:
    """No random faults, debug logs (the most talkative setting), short upstream deadline."""
    return make_stack(
        "clean",
        {
            "LOG_LEVEL": "debug",
            "GEMINI_MAX_RETRIES": "2",
            "GEMINI_TIMEOUT_SECONDS": "5",
        },
    )


@pytest.fixture(scope="session")
def faulty_stack(make_stack: StackFactory) -> bench_measure.Stack:
    """10% of upstream calls fail with a random fault from the catalogue."""
    return make_stack(
        "soak",
        {
            "LOG_LEVEL": "info",
            "GEMINI_MAX_RETRIES": "2",
            "GEMINI_TIMEOUT_SECONDS": "5",
            "FAKE_GEMINI_LATENCY_MS": "20",
            "FAKE_GEMINI_FAULT_RATE": "0.1",
            "FAKE_GEMINI_FAULTS": ",".join(SOAK_FAULTS),
        },
    )


SOAK_FAULTS = (
    "rate_limit",
    "rate_limit_header",
    "unavailable",
    "unavailable_once",
    "internal",
    "bad_request",
    "not_found",
    "permission_denied",
    "malformed",
    "safety",
    "drop",
    "slow",
)
