"""Releases in a registry of the run, as `invoke deploy` takes them: by digest, never by tag.

A local registry on a free port (Debian's program offline, the official image online, as
`invoke registry.up` starts it), the run's app image pushed to it, and two releases derived
from that image the way tests/deploy derives them: a second good one (another label, another
digest) and a bad one whose settings are invalid, so its health check never passes. All of it,
registry, pushed tags and the engine's references to the pushed digests, goes on close.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from typing import Final

from gemini_workflow import config, docker_engine, local_registry
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port
from gemini_workflow.registry import RegistryClient

REPOSITORY: Final = "bench/gemini-service"
DERIVED: Final = {
    "second": "LABEL org.gemini-service.bench.release=second\n",
    "bad": "LABEL org.gemini-service.bench.release=bad\nENV GEMINI_TEMPERATURE=very-hot\n",
}


@dataclass(frozen=True)
class Releases:
    """Three references by digest: the app, a second good release, one that cannot start."""

    first: str
    second: str
    bad: str


def start_registry(run: BenchRun) -> local_registry.LocalRegistry:
    """A fresh registry of this run; stopped and its storage deleted on close."""
    spec = local_registry.LocalRegistry(
        state_dir=run.workdir / "registry",
        port=free_port(),
        use_container=not bool(config.load(run.root).get("offline", False)),
        container_name=run.name("registry"),
    )
    spec.state_dir.mkdir(parents=True, exist_ok=True)
    run.defer(f"local registry {spec.address}", lambda: forget(run, spec))
    local_registry.up(spec)
    return spec


def forget(run: BenchRun, spec: local_registry.LocalRegistry) -> None:
    """Stop the registry, then drop every engine reference into it (tags and digests)."""
    local_registry.down(spec, purge=True)
    prefix = f"{spec.address}/"
    for image in run.client.images.list():
        for ref in [*(image.attrs.get("RepoTags") or []), *(image.attrs.get("RepoDigests") or [])]:
            if ref.startswith(prefix):
                docker_engine.remove_image(run.client, ref)


def push(run: BenchRun, spec: local_registry.LocalRegistry, image: str, tag: str) -> str:
    """Push `image` as `tag`; return its reference by digest."""
    tagged = f"{spec.address}/{REPOSITORY}:{tag}"
    docker_engine.tag_image(run.client, image, tagged)
    done = subprocess.run(
        ["docker", "push", "--quiet", tagged],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise WorkflowError(f"`docker push {tagged}` failed: {done.stderr.strip()[-1000:]}")
    digest = RegistryClient(spec.address).manifest_digest(REPOSITORY, tag)
    if not digest:
        raise WorkflowError(f"{tagged} is not in the registry after the push")
    return f"{spec.address}/{REPOSITORY}@{digest}"


def derive(run: BenchRun, base: str, name: str) -> str:
    """An image of this run made from `base` plus DERIVED[name] (metadata only: no network)."""
    tag = run.tag(f"release-{name}")
    dockerfile = f"FROM {base}\n{DERIVED[name]}"
    run.client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return tag


def publish(run: BenchRun, app: str) -> Releases:
    """The registry, and the three releases pushed to it."""
    spec = start_registry(run)
    refs = {"first": push(run, spec, app, "first")}
    for name in DERIVED:
        refs[name] = push(run, spec, derive(run, app, name), name)
    return Releases(**refs)
