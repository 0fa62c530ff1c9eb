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

from gemini_workflow import config, docker_engine, images, stack_up
from gemini_workflow.compose import PUBLISH_ALL
from gemini_workflow.ports import free_port
from gemini_workflow.stack import FAKE_UPSTREAM, ApiKey, Images, StackPlan
from tests.reliability.traffic import CANARY_KEY, leaks

StackFactory = Callable[[str, dict[str, str]], stack_up.RunningStack]
UP_TIMEOUT = 120


@pytest.fixture(scope="session")
def stack_images() -> Images:
    """The app and fake images exactly as `invoke build` makes them (cached when unchanged)."""
    settings = config.load()
    request = images.request_from_config(settings, root=config.ROOT, quiet=True)
    reports = {report.target: report for report in images.build_images(request)}
    return Images(
        app=reports["app"].tags[-1],
        fake=reports["fake"].tags[-1],
        proxy=str(settings["images"]["nginx"]),
    )


@pytest.fixture(scope="session")
def make_stack(stack_images: Images) -> Iterator[StackFactory]:
    """Start a stack with the given env file contents; all are checked and removed at the end.

    The same plan and start as `invoke up`, with the fake as upstream, the canary as the key
    (a real-key plan, so the canary is what the secret file holds) and every hop published.
    """
    client = docker_engine.connect(timeout=120)
    started: list[stack_up.RunningStack] = []
    workdir = tempfile.TemporaryDirectory(prefix="gs-rel-")

    def start(name: str, env: dict[str, str]) -> stack_up.RunningStack:
        env_file = Path(workdir.name) / f"{name}.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        plan = StackPlan(
            project=f"gs-rel-{name}-{secrets.token_hex(3)}",
            root=config.ROOT,
            env_name=name,
            env_file=env_file,
            upstream=FAKE_UPSTREAM,
            key=ApiKey("the reliability canary", CANARY_KEY),
            port=free_port(),
            bind="127.0.0.1",
            images=stack_images,
            overlays=(PUBLISH_ALL,),
        )
        running = stack_up.RunningStack(plan, client)
        started.append(running)
        stack_up.start(plan, client, timeout=UP_TIMEOUT)
        return running

    yield start

    found: list[str] = []
    try:
        for running in started:
            try:
                found += [f"{running.plan.project}: {leak}" for leak in leaks(running, CANARY_KEY)]
            except Exception as exc:
                found.append(f"{running.plan.project}: could not be scanned ({exc})")
    finally:
        for running in started:
            stack_up.stop(running.plan, volumes=True)
        workdir.cleanup()
        client.close()
    assert not found, "the canary API key leaked:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def clean_stack(make_stack: StackFactory) -> stack_up.RunningStack:
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
def faulty_stack(make_stack: StackFactory) -> stack_up.RunningStack:
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
