"""Session fixtures for the smoke tests: a real engine, and the images built once.

Smoke tests never skip: without an engine the `engine` fixture fails with the same
message `invoke build` gives. The images come from the real build code path
(`gemini_workflow.images.build_images`, what `invoke build` runs) with the project's invoke
config, so offline hosts build from the stand-ins exactly as `invoke build` does.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import invoke
import pytest

from gemini_workflow import config, docker_engine, images, local_registry
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port

ROOT = config.ROOT


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """A docker SDK client; no engine is a test failure, never a skip."""
    try:
        client = docker_engine.connect()
    except WorkflowError as exc:
        pytest.fail(str(exc))
    yield client
    client.close()


@pytest.fixture(scope="session")
def invoke_config() -> invoke.Config:
    """The config every task sees: defaults, invoke.yaml, INVOKE_* variables."""
    return config.load()


@pytest.fixture(scope="session")
def built_images(engine: Any, invoke_config: invoke.Config) -> dict[str, str]:
    """`{"app": ref, "fake": ref}`, built once per session, tagged `sha-<7>[-dirty]`."""
    request = images.request_from_config(invoke_config, root=ROOT, quiet=True, environ=os.environ)
    try:
        reports = images.build_images(request, client=engine)
    except WorkflowError as exc:
        pytest.fail(f"building the images failed: {exc}")
    return {report.target: report.tags[-1] for report in reports}


@pytest.fixture(scope="session")
def stack_images(built_images: dict[str, str]) -> dict[str, str]:
    """The images the compose stack tests start (same build, same tags)."""
    return built_images


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, invoke_config: invoke.Config
) -> Iterator[local_registry.LocalRegistry]:
    """A fresh registry, as `invoke registry.up` starts it on this kind of host."""
    spec = local_registry.LocalRegistry(
        state_dir=tmp_path_factory.mktemp("registry"),
        port=free_port(),
        use_container=not invoke_config.offline,
        container_name=f"gs-smoke-registry-{secrets.token_hex(4)}",
    )
    local_registry.up(spec)
    try:
        yield spec
    finally:
        local_registry.down(spec, purge=True)
