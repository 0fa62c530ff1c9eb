"""The one place that talks to the Docker engine.

The docker SDK inspects (images, history, save); the docker CLI builds, because BuildKit
features (RUN --mount, --network=none) are only reachable through `docker buildx build`.
Everything else in gemini_workflow works on plain dicts, which keeps it unit-testable.
"""

from __future__ import annotations

import contextlib
import functools
import io
import posixpath
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from gemini_workflow.errors import WorkflowError

NO_ENGINE_HINT = "run `invoke bootstrap` (Debian/Ubuntu host) or start Docker Desktop"


class EngineUnavailable(WorkflowError):
    """No Docker engine answers."""


def connect(timeout: int = 120) -> Any:
    """A docker SDK client that is known to answer, or a clear error.

    The timeout is per API call; `docker save` of a large image needs more than the default.
    """
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(f"no Docker engine reachable ({exc}): {NO_ENGINE_HINT}") from exc
    return client


def inspect_image(client: Any, ref: str) -> dict[str, Any] | None:
    """`docker image inspect` as a dict, or None when the image is not present locally."""
    try:
        attrs: dict[str, Any] = client.images.get(ref).attrs
    except docker.errors.ImageNotFound:
        return None
    return attrs


def image_history(client: Any, ref: str) -> list[dict[str, Any]]:
    """`docker history` entries, newest first (keys: CreatedBy, Size, Id, ...)."""
    history: list[dict[str, Any]] = client.api.history(ref)
    return history


def pull_image(ref: str, timeout: float = 600) -> None:
    """Pull through the CLI: it understands `name:tag@sha256:...` and shows progress."""
    result = subprocess.run(
        ["docker", "pull", ref], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise WorkflowError(result.stderr.strip() or f"docker pull {ref} failed")


def tag_image(client: Any, source: str, target: str) -> None:
    repository, _, tag = target.rpartition(":")
    client.api.tag(source, repository, tag)


def remove_image(client: Any, ref: str) -> None:
    """Untag (and delete if it was the last tag); a missing image is not an error."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.api.remove_image(ref, noprune=False)


def save_image(client: Any, ref: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The uncompressed `docker save` tarball, streamed in chunks."""
    image = client.images.get(ref)
    yield from image.save(chunk_size=chunk_size, named=True)


def read_image_files(client: Any, ref: str, paths: Sequence[str]) -> dict[str, bytes | None]:
    """Files from an image's filesystem (None where absent), read without running the image.

    A created, never started container exposes the filesystem to `get_archive`; no shell or
    program runs, so this works for any image, even one without a shell or a CMD (the
    entrypoint is never executed). A symlink is followed once (Debian's /etc/os-release points
    into /usr/lib).
    """
    container = client.containers.create(ref, entrypoint=["/nonexistent"])
    try:
        return {path: _read_file(container, path) for path in paths}
    finally:
        container.remove(force=True)


def _read_file(container: Any, path: str, *, follow: bool = True) -> bytes | None:
    try:
        stream, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        member = archive.next()
        if member is not None and member.issym() and follow:
            target = posixpath.join(posixpath.dirname(path), member.linkname)
            return _read_file(container, posixpath.normpath(target), follow=False)
        extracted = archive.extractfile(member) if member is not None else None
        return extracted.read() if extracted is not None else None


def container_rss(container: Any) -> int:
    """Resident bytes of a container's Python processes (its init process excluded)."""
    top = container.top(ps_args="-o pid,rss,comm")
    titles = top["Titles"]
    rss, comm = titles.index("RSS"), titles.index("COMMAND")
    return sum(int(p[rss]) * 1024 for p in top["Processes"] if "python" in p[comm])


@dataclass(frozen=True)
class BuildSpec:
    """One `docker buildx build` invocation (one target, loaded into the engine)."""

    context: Path
    dockerfile: Path
    target: str
    tags: Sequence[str]
    build_args: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    # "none" for offline builds: nothing inside the build may reach the network.
    network: str | None = None


def build_command(spec: BuildSpec) -> list[str]:
    """The exact CLI invocation, kept separate so tests can check it without an engine."""
    cmd = ["docker", "buildx", "build", "--load", "--file", str(spec.dockerfile)]
    # No provenance attestation: it records the build's times, so every build of one commit
    # would become another image (an index with a new digest). The image itself is the record.
    cmd += ["--provenance=false"]
    cmd += ["--target", spec.target]
    for tag in spec.tags:
        cmd += ["--tag", tag]
    for key, value in sorted(spec.build_args.items()):
        cmd += ["--build-arg", f"{key}={value}"]
    if spec.no_cache:
        cmd.append("--no-cache")
    if spec.network:
        cmd += ["--network", spec.network]
    cmd.append(str(spec.context))
    return cmd


@functools.cache
def require_buildx() -> None:
    """The docker CLI and its buildx plugin are installed, or EngineUnavailable says how.

    Asked once a process (a failure is not cached): builds are timed by the bench, and
    `invoke build` runs several; the probe costs 0.1 s each time.
    """
    if shutil.which("docker") is None:
        raise EngineUnavailable(f"the docker CLI is not installed: {NO_ENGINE_HINT}")
    probe = subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        raise EngineUnavailable(f"the docker buildx plugin is missing: {NO_ENGINE_HINT}")


def build(spec: BuildSpec, *, quiet: bool = False) -> None:
    """Run the build; its progress goes to the terminal unless quiet (then kept for errors)."""
    require_buildx()
    cmd = build_command(spec)
    if quiet:
        cmd[3:3] = ["--progress", "plain"]
    result = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if result.returncode == 0:
        return
    output = (result.stderr or "") if quiet else ""
    tail = "\n".join(output.strip().splitlines()[-25:])
    raise WorkflowError(
        f"building target `{spec.target}` failed (docker exit {result.returncode})"
        + (f":\n{tail}\n" if tail else "; see the build output above. ")
        + "Fix the error, or run `invoke build --no-cache` if a cached layer is suspect."
    )
