"""`invoke verify`: prove that what the registry holds runs, as a clean host would get it.

The local copies are removed first, so the image is really pulled (by digest, the way a deploy
pins it), and the registry is asked for every blob, because docker skips downloading layers it
shares with other local images. The digest must have its SBOM attached (sbom_release.py). The
container then runs against the fake Gemini on a private network and must pass its health
check and answer one /generate.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import requests

from gemini_workflow import docker_engine, sbom_release, wait
from gemini_workflow.errors import WorkflowError
from gemini_workflow.registry import (
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    docker_credentials,
)
from gemini_workflow.release import ImageReference, ReleaseError, ReleaseRecord

Progress = Callable[[str], None]
APP_PORT = 8000
FAKE_PORT = 8001
FAKE_ENTRYPOINT = ["python", "-m", "gemini_service.fake"]
LABEL = "org.gemini-service.verify"


@dataclass(frozen=True)
class VerifyReport:
    ref: str  # repository@digest that was verified
    image_id: str
    layers_downloaded: int
    layers_total: int
    removed_tags: list[str]
    health: str
    generated_text: str
    seconds: float
    run_id: str  # names (and labels) the network and containers verify used
    notes: list[str] = field(default_factory=list)
    sbom: sbom_release.SbomCheck | None = None


def pinned(ref: ImageReference, registry: RegistryClient) -> ImageReference:
    """A tag reference resolved to the digest it points to now; a digest stays as it is."""
    if ref.digest:
        return ImageReference(ref.repository, None, ref.digest)
    try:
        digest = registry.manifest_digest(ref.repository.path, ref.tag or "latest")
    except RegistryAuthError as error:
        raise ReleaseError(f"{error}; log in to the registry and try again") from None
    except RegistryError as error:
        raise ReleaseError(str(error)) from None
    if digest is None:
        raise ReleaseError(f"{ref} does not exist in the registry")
    return ImageReference(ref.repository, None, digest)


def verify_from_config(
    config: Any, *, root: Path, ref: str = "", progress: Progress = lambda _: None
) -> VerifyReport:
    """`invoke verify` with invoke config: the record path, the fake, the timeout.

    The fake image is the one `invoke build` tagged with this project's version.
    """
    from gemini_workflow import images

    return verify_release(
        ref,
        record_path=root / str(config["release"]["record"]),
        fake_image=images.release_fake_image(root, str(config["image"]["name"])),
        timeout=float(config["release"]["verify_timeout"]),
        progress=progress,
        root=root,
    )


def verify_release(
    ref: str,
    *,
    record_path: Path,
    fake_image: str,
    timeout: float = 60.0,
    progress: Progress = lambda _: None,
    engine: Any = None,
    root: Path | None = None,
) -> VerifyReport:
    """`invoke verify [--ref REF]`: REF, or else what the last `invoke push` recorded."""
    reference = ImageReference.parse(ref or ReleaseRecord.read(record_path).ref)
    host = reference.repository.host
    registry = RegistryClient(host, credentials=docker_credentials(host))
    return verify(
        engine or docker_engine.connect(),
        registry,
        reference,
        fake_image=fake_image,
        timeout=timeout,
        progress=progress,
        root=root,
    )


def verify(
    engine: Any,
    registry: RegistryClient,
    ref: ImageReference,
    *,
    fake_image: str,
    timeout: float = 60.0,
    progress: Progress = lambda _: None,
    root: Path | None = None,
) -> VerifyReport:
    """Blobs, SBOM, local copies removed, pull by digest, run, health, /generate; always
    cleans up. `root` holds build/sbom and the lock the SBOM is compared with."""
    started = time.monotonic()
    ref = pinned(ref, registry)
    assert ref.digest is not None
    repo_digest = f"{ref.repository}@{ref.digest}"
    progress(f"checking every blob of {repo_digest} in the registry")
    image_id, layers_total = _check_blobs(registry, ref)
    progress(f"checking the SBOM attached to {repo_digest}")
    sbom = sbom_release.check(registry, ref, image_id, root=root)
    notes: list[str] = []
    fake_entrypoint = None
    if not _exists(engine, fake_image):
        # The app image ships the fake too: a host with nothing but the registry can verify.
        notes.append(f"no local {fake_image}: ran the fake from the pulled image instead")
        fake_image, fake_entrypoint = repo_digest, FAKE_ENTRYPOINT
    progress("removing the local copies")
    removed = _remove_local(engine, image_id, notes)
    try:
        progress(f"pulling {repo_digest}")
        downloaded = _pull(engine, ref)
        pulled = engine.images.get(repo_digest)
        if pulled.id != image_id:
            raise ReleaseError(f"pulled {pulled.id}, but the manifest names {image_id}")
    except ReleaseError as error:
        if removed and not _restore_tags(engine, image_id, removed):
            raise ReleaseError(
                f"{error}\nthe local copies ({', '.join(removed)}) were removed before the pull; "
                "`invoke build` makes them again"
            ) from None
        raise
    _restore_tags(engine, image_id, removed)
    with _private_network(engine) as (network, run_id):
        progress("starting the fake Gemini and the pulled image")
        fake = _run(
            engine,
            fake_image,
            f"{run_id}-fake",
            network,
            {"PORT": str(FAKE_PORT)},
            {},
            entrypoint=fake_entrypoint,
        )
        app = _run(
            engine,
            repo_digest,
            f"{run_id}-app",
            network,
            {
                "GEMINI_API_KEY": "verify-key",
                "GEMINI_API_ENDPOINT": f"http://{fake.name}:{FAKE_PORT}",
                "GEMINI_MAX_RETRIES": "0",
            },
            {f"{APP_PORT}/tcp": ("127.0.0.1", None)},
        )
        progress("waiting for the health checks")
        health = _wait_healthy(app, timeout)
        _wait_healthy(fake, timeout)
        port = _host_port(app)
        progress("asking /generate")
        text = _generate(f"http://127.0.0.1:{port}", app)
    return VerifyReport(
        ref=repo_digest,
        image_id=image_id,
        layers_downloaded=downloaded,
        layers_total=layers_total,
        removed_tags=removed,
        health=health,
        generated_text=text,
        seconds=time.monotonic() - started,
        run_id=run_id,
        notes=notes,
        sbom=sbom,
    )


def _check_blobs(registry: RegistryClient, ref: ImageReference) -> tuple[str, int]:
    assert ref.digest is not None
    try:
        manifest = registry.manifest(ref.repository.path, ref.digest)
        if manifest is None:
            raise ReleaseError(f"{ref} does not exist in the registry")
        for blob in (manifest.config, *manifest.layers):
            size = registry.blob_size(ref.repository.path, blob.digest)
            if size != blob.size:
                raise ReleaseError(
                    f"the registry lacks blob {blob.digest} of {ref} (expected {blob.size} bytes, "
                    f"found {'none' if size is None else size}); push the image again"
                )
    except RegistryError as error:
        raise ReleaseError(str(error)) from None
    return manifest.config.digest, len(manifest.layers)


def _exists(engine: Any, name: str) -> bool:
    try:
        engine.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def _remove_local(engine: Any, image_id: str, notes: list[str]) -> list[str]:
    """Drop every name of the image so that the pull below must fetch it; returns the names."""
    try:
        image = engine.images.get(image_id)
    except docker.errors.ImageNotFound:
        return []
    tags = list(image.tags)
    users = engine.containers.list(all=True, filters={"ancestor": image_id})
    if users:
        notes.append(
            f"containers {', '.join(c.name for c in users)} use the image, so its layers stay "
            "on this host; the pull still checked the manifest and the registry every blob"
        )
    for name in tags + list(image.attrs.get("RepoDigests") or []):
        try:
            engine.images.remove(name, noprune=False)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as error:
            notes.append(f"could not remove {name}: {error.explanation}")
    return tags


def _restore_tags(engine: Any, image_id: str, tags: list[str]) -> bool:
    """Give the pulled image its local names back, so `invoke up` keeps working.

    False when there is no image to name (the pull failed).
    """
    try:
        image = engine.images.get(image_id)
    except docker.errors.ImageNotFound:
        return False
    for name in tags:
        repository, _, tag = name.rpartition(":")
        image.tag(repository, tag)
    return True


def _pull(engine: Any, ref: ImageReference) -> int:
    """Pull by digest; returns how many layers were really downloaded."""
    downloaded: set[str] = set()
    for event in engine.api.pull(str(ref.repository), tag=ref.digest, stream=True, decode=True):
        if "error" in event:
            raise ReleaseError(f"pulling {ref.repository}@{ref.digest} failed: {event['error']}")
        if event.get("status") == "Pull complete":
            downloaded.add(event.get("id", ""))
    return len(downloaded)


@contextmanager
def _private_network(engine: Any) -> Iterator[tuple[Any, str]]:
    """A user-defined network (name-based DNS) whose containers are removed whatever happens."""
    run_id = f"gs-verify-{secrets.token_hex(4)}"
    network = engine.networks.create(run_id, driver="bridge", labels={LABEL: run_id})
    try:
        yield network, run_id
    finally:
        for container in engine.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
            container.remove(force=True)
        network.remove()


def _run(
    engine: Any,
    image: str,
    name: str,
    network: Any,
    environment: dict[str, str],
    ports: dict[str, tuple[str, None]],
    *,
    entrypoint: list[str] | None = None,
) -> Any:
    return engine.containers.run(
        image,
        entrypoint=entrypoint,
        name=name,
        detach=True,
        network=network.name,
        environment=environment,
        ports=ports,
        labels={LABEL: network.name},
    )


def _wait_healthy(container: Any, timeout: float) -> str:
    """The image's own HEALTHCHECK decides; a container without one fails verification."""
    try:
        wait.container_healthy(container, timeout=timeout)
    except WorkflowError as exc:
        raise ReleaseError(
            f"the pulled image did not become healthy ({exc}); its log ends with:\n"
            f"{_logs(container)}"
        ) from None
    return "healthy"


def _host_port(container: Any) -> int:
    bindings = container.attrs["NetworkSettings"]["Ports"][f"{APP_PORT}/tcp"]
    return int(bindings[0]["HostPort"])


def _generate(base_url: str, app: Any) -> str:
    try:
        response = requests.post(
            f"{base_url}/generate",
            json={"prompt": "Say hello to the release pipeline."},
            timeout=15,
        )
        response.raise_for_status()
        answer = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ReleaseError(
            f"POST /generate failed: {error}\nthe app's log ends with:\n{_logs(app)}"
        ) from None
    text = answer.get("text") if isinstance(answer, dict) else None
    if not isinstance(text, str) or not text:
        raise ReleaseError(f"POST /generate answered without text: {answer!r}")
    return text


def _logs(container: Any) -> str:
    try:
        return str(container.logs(tail=30).decode(errors="replace"))
    except Exception:  # the log is a courtesy in an error message that is already on its way
        return "(no log)"


def summary_line(report: VerifyReport) -> str:
    shared = report.layers_total - report.layers_downloaded
    return (
        f"verified {report.ref} in {report.seconds:.1f} s: downloaded "
        f"{report.layers_downloaded} of {report.layers_total} layers ({shared} shared with other "
        f"local images, checked in the registry by digest and size), health {report.health}, "
        f"/generate answered {report.generated_text[:40]!r}"
        + (
            f"; SBOM {report.sbom.digest} (found through the {report.sbom.found_through}) "
            f"matches {report.sbom.compared_with}"
            if report.sbom
            else ""
        )
    )
