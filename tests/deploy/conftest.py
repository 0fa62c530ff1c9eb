"""Fixtures for `nox -s deploy`: a registry holding three releases, and one swarm stack.

The releases are the session's app image pushed by digest (good), the same with another
label (good, a second digest), and one that cannot start (bad: its settings are invalid,
so its health check never passes). Every deploy goes through the `invoke deploy` command
line, as a user runs it, against a stack name, port and client key file of this run only;
`invoke deploy.down --leave` removes everything at the end, and the test checks it did.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import local_registry
from gemini_workflow.ports import free_port
from gemini_workflow.registry import RegistryClient
from tests.smoke.conftest import built_images, engine, invoke_config, registry  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
DERIVED = {
    "good": "LABEL org.gemini-service.test.release=second\n",
    "bad": "LABEL org.gemini-service.test.release=bad\nENV GEMINI_TEMPERATURE=very-hot\n",
}


@dataclass(frozen=True)
class Releases:
    first: str
    second: str
    bad: str


@dataclass(frozen=True)
class Deployment:
    """How this run calls `invoke deploy`: its stack, port and client keys."""

    stack: str
    port: int
    keys: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def invoke(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def key(self, index: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.read_text().split()[index]}"}


def push(client: Any, spec: local_registry.LocalRegistry, image: str, tag: str) -> str:
    """Push `image` as `tag` and return its reference by digest."""
    repository = f"{spec.address}/deploy-test/gemini-service"
    client.api.tag(image, repository, tag)
    subprocess.run(["docker", "push", "--quiet", f"{repository}:{tag}"], check=True)
    digest = RegistryClient(spec.address).manifest_digest("deploy-test/gemini-service", tag)
    assert digest, f"{repository}:{tag} is not in the registry after the push"
    return f"{repository}@{digest}"


@pytest.fixture(scope="module")
def releases(
    engine: Any,  # noqa: F811
    built_images: dict[str, str],  # noqa: F811
    registry: local_registry.LocalRegistry,  # noqa: F811
) -> Iterator[Releases]:
    made: list[str] = []
    refs = {"first": push(engine, registry, built_images["app"], "first")}
    for name, lines in DERIVED.items():
        dockerfile = f"FROM {built_images['app']}\n{lines}"
        image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), rm=True)
        made.append(image.id)
        refs["second" if name == "good" else name] = push(engine, registry, image.id, name)
    try:
        yield Releases(**refs)
    finally:
        for image_id in made:
            subprocess.run(["docker", "rmi", "--force", image_id], capture_output=True, check=False)


@pytest.fixture(scope="module")
def deployment(
    built_images: dict[str, str],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Deployment:
    keys = tmp_path_factory.mktemp("keys") / "client-keys"
    keys.write_text(f"{secrets.token_urlsafe(24)}\n{secrets.token_urlsafe(24)}\n")
    keys.chmod(0o600)
    stack = f"gs-deploy-{secrets.token_hex(3)}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "INVOKE_"))},
        "INVOKE_DEPLOY_STACK": stack,
        "INVOKE_DEPLOY_FAKE_IMAGE": built_images["fake"],
        "INVOKE_DEPLOY_CLIENT_KEYS": str(keys),
        # wrk sends hundreds of requests a second with one key: the per-key limit (tested on
        # the compose stack, tests/smoke/test_auth.py) must not be what these tests measure.
        "INVOKE_DEPLOY_CLIENT_RATE": "100000r/s",
        "INVOKE_DEPLOY_CLIENT_BURST": "100000",
        "INVOKE_DEPLOY_TIMEOUT": "180",
        "COLUMNS": "200",
    }
    return Deployment(stack, free_port(), keys, env)
