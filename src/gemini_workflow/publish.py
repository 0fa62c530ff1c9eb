"""`invoke push`: check the preconditions, then push one local image under every release tag.

The order matters: everything that can refuse (dirty tree, bad version, auth, an immutable tag
pointing elsewhere) runs before the first byte is uploaded, so a refused push changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker.errors
from rich.table import Table
from semver import Version

from gemini_workflow import docker_engine, sbom, sbom_release
from gemini_workflow.referrers import Attached
from gemini_workflow.registry import (
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    docker_credentials,
)
from gemini_workflow.release import (
    REVISION_LABEL,
    VERSION_LABEL,
    Action,
    ReleaseError,
    ReleaseRecord,
    RemoteTag,
    Repository,
    SourceState,
    Tag,
    TagKind,
    TagPlan,
    plan_tags,
    project_version,
    refusal_message,
    release_tags,
    source_state,
)

Progress = Callable[[str], None]
_AUTH_WORDS = ("unauthorized", "authentication required", "no basic auth", "denied", "forbidden")


@dataclass(frozen=True)
class PushPlan:
    """Everything decided before pushing: what goes where under which tags."""

    repository: Repository
    version: Version
    source: SourceState
    image_id: str
    tags: list[TagPlan]

    @property
    def is_noop(self) -> bool:
        return not any(plan.action.pushes for plan in self.tags)

    @property
    def released(self) -> list[TagPlan]:
        """The tags that name this release after the push (not aliases left on a newer one)."""
        return [plan for plan in self.tags if plan.action is not Action.NEWER]


@dataclass(frozen=True)
class PushResult:
    plan: PushPlan
    record: ReleaseRecord
    uploaded_layers: int
    uploaded_bytes: int
    total_layers: int
    seconds: float
    sbom: Attached | None = None


def auth_failure(host: str, detail: str) -> ReleaseError:
    """The one message every authentication failure becomes."""
    if host.endswith("-docker.pkg.dev"):
        fix = (
            f"run `gcloud auth login` and `gcloud auth configure-docker {host}`, and make sure "
            "your account has roles/artifactregistry.writer on the repository"
        )
    else:
        fix = f"run `docker login {host}`"
    return ReleaseError(f"{host} refused our credentials ({detail}); {fix}, then push again")


def docker_config_path() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"


def ensure_artifact_registry_auth(
    host: str,
    *,
    config_path: Path | None = None,
    which: Callable[[str], str | None] = shutil.which,
    run: Callable[..., Any] = subprocess.run,
) -> str | None:
    """Make docker use gcloud's credential helper for `host`; returns what was done, if anything.

    Only the host's credHelpers entry is checked: whether the login behind it is still valid
    is the registry's to say, and its refusal becomes `auth_failure`.
    """
    path = config_path or docker_config_path()
    try:
        helpers = json.loads(path.read_text()).get("credHelpers", {})
    except (OSError, ValueError):
        helpers = {}
    if helpers.get(host) == "gcloud":
        return None
    gcloud = which("gcloud")
    if gcloud is None:
        raise ReleaseError(
            f"docker has no credentials for {host} and gcloud is not installed; install the "
            "Google Cloud CLI, then run:\n"
            f"  gcloud auth login\n  gcloud auth configure-docker {host}\n"
            "and push again"
        )
    result = run(
        [gcloud, "auth", "configure-docker", host, "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise auth_failure(host, f"gcloud auth configure-docker failed: {result.stderr.strip()}")
    return f"configured docker to authenticate to {host} through gcloud"


def remote_tags(
    registry: RegistryClient, repository: Repository, tags: list[Tag]
) -> dict[str, RemoteTag | None]:
    """What each of our tags points to in the registry now (None: the tag does not exist).

    For aliases the image's version label is read too, so that an alias never moves back.
    """
    found: dict[str, RemoteTag | None] = {}
    try:
        for tag in tags:
            manifest = registry.manifest(repository.path, tag.name)
            if manifest is None:
                found[tag.name] = None
                continue
            version = None
            if tag.kind is TagKind.ALIAS:
                labels = registry.image_labels(repository.path, manifest.config.digest)
                version = labels.get(VERSION_LABEL)
            found[tag.name] = RemoteTag(manifest.digest, manifest.config.digest, version)
    except RegistryAuthError as error:
        raise auth_failure(repository.host, str(error)) from None
    except RegistryError as error:
        local = repository.host.startswith(("127.", "localhost"))
        hint = "; start the local one with `invoke registry.up`" if local else ""
        raise ReleaseError(f"{error}{hint}") from None
    return found


def prepare(
    engine: Any,
    registry: RegistryClient,
    *,
    repository: Repository,
    local_image: str,
    version: Version,
    source: SourceState,
    force: bool,
) -> PushPlan:
    """All checks, no side effects: refuses a dirty tree, a missing image, a moved version."""
    tags = release_tags(version, source)
    try:
        image = engine.images.get(local_image)
    except docker.errors.ImageNotFound:
        raise ReleaseError(f"no local image {local_image}; run `invoke build` first") from None
    _check_labels(local_image, image.labels or {}, version, source)
    image_id = str(image.id)
    remote = remote_tags(registry, repository, tags)
    plans = plan_tags(tags, image_id, remote, force=force, version=version)
    if message := refusal_message(repository, plans):
        raise ReleaseError(message)
    return PushPlan(repository, version, source, image_id, plans)


def _check_labels(
    local_image: str, labels: dict[str, str], version: Version, source: SourceState
) -> None:
    """The image's own metadata must agree with the tags it is about to get."""
    expected = {VERSION_LABEL: str(version), REVISION_LABEL: source.revision}
    for key, want in expected.items():
        have = labels.get(key)
        if have is not None and have != want:
            raise ReleaseError(
                f"{local_image} says {key}={have}, but this release is {want}; it was not built "
                "from this commit: run `invoke build`, then push again"
            )


def execute(
    plan: PushPlan,
    engine: Any,
    registry: RegistryClient,
    *,
    local_image: str,
    record_path: Path,
    progress: Progress = lambda _: None,
    sbom_file: Path | None = None,
) -> PushResult:
    """Push every tag that needs it, check they all landed on one digest, attach the SBOM to
    that digest, write the record."""
    started = time.monotonic()
    pushed_layers: set[str] = set()
    image = engine.images.get(local_image)
    repo = str(plan.repository)
    for tag_plan in plan.tags:
        if not tag_plan.action.pushes:
            continue
        with _local_tag(image, repo, tag_plan.tag.name):
            pushed_layers |= _push(engine, plan.repository, tag_plan.tag.name, progress)
    seconds = time.monotonic() - started
    digest = _single_digest(plan, registry)
    attached = None
    if sbom_file is not None:
        progress(f"attaching {sbom_file.name} to {plan.repository.at_digest(digest)}")
        try:
            attached = sbom_release.attach(registry, plan.repository.path, digest, sbom_file)
        except RegistryAuthError as error:
            raise auth_failure(plan.repository.host, str(error)) from None
    manifest = registry.manifest(plan.repository.path, digest)
    assert manifest is not None  # _single_digest just saw it
    diff_ids = [layer.removeprefix("sha256:")[:12] for layer in image.attrs["RootFS"]["Layers"]]
    sizes = dict(zip(diff_ids, (layer.size for layer in manifest.layers), strict=False))
    record = ReleaseRecord(
        image=repo,
        digest=digest,
        tags=[p.tag.name for p in plan.released],
        version=str(plan.version),
        revision=plan.source.revision,
        pushed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        sbom=attached.manifest.digest if attached else None,
    )
    record.write(record_path)
    return PushResult(
        plan,
        record,
        uploaded_layers=len(pushed_layers),
        uploaded_bytes=sum(sizes.get(layer, 0) for layer in pushed_layers),
        total_layers=len(manifest.layers),
        seconds=seconds,
        sbom=attached,
    )


@contextmanager
def _local_tag(image: Any, repo: str, tag: str) -> Iterator[None]:
    """docker pushes names, not images: name the image for the push, then drop the name."""
    image.tag(repo, tag)
    try:
        yield
    finally:
        image.client.images.remove(f"{repo}:{tag}", noprune=True)


def _push(engine: Any, repository: Repository, tag: str, progress: Progress) -> set[str]:
    """Push one tag; returns the (short) layer ids that were really uploaded."""
    uploaded: set[str] = set()
    progress(f"pushing {repository.at_tag(tag)}")
    for event in engine.api.push(str(repository), tag=tag, stream=True, decode=True):
        if "error" in event:
            message = str(event["error"])
            if any(word in message.lower() for word in _AUTH_WORDS):
                raise auth_failure(repository.host, message)
            raise ReleaseError(f"pushing {repository.at_tag(tag)} failed: {message}")
        status, layer = event.get("status", ""), event.get("id", "")
        if status == "Pushed":
            uploaded.add(layer)
        if status == "Pushing" and (detail := event.get("progressDetail")):
            done, total = detail.get("current", 0), detail.get("total", 0)
            progress(
                f"pushing {repository.at_tag(tag)}: layer {layer} {done >> 20}/{total >> 20} MB"
            )
    return uploaded


def _single_digest(plan: PushPlan, registry: RegistryClient) -> str:
    """Read every tag back: a release is one manifest under all its names."""
    path = plan.repository.path
    digests = {p.tag.name: registry.manifest_digest(path, p.tag.name) for p in plan.released}
    if len(set(digests.values())) != 1 or None in digests.values():
        found = ", ".join(f"{tag} -> {digest}" for tag, digest in digests.items())
        raise ReleaseError(f"after the push the tags do not share one digest ({found})")
    return str(next(iter(digests.values())))


def push_release(
    *,
    root: Path,
    repository: Repository,
    image_name: str,
    force: bool,
    record_path: Path,
    build: Callable[[], object],
    progress: Progress = lambda _: None,
    engine: Any = None,
    registry: RegistryClient | None = None,
    configure_auth: Callable[[str], str | None] = ensure_artifact_registry_auth,
    describe: Callable[[Any, Path, str], Path] = sbom.ensure,
) -> PushResult:
    """The whole `invoke push` up to verification; refusals come before any upload.

    `describe` gives the image's SBOM file (build/sbom/), made now if `invoke build` did not.
    """
    version = project_version(root)
    source = source_state(root)
    release_tags(version, source)  # a dirty tree is refused before anything is built
    engine = engine or docker_engine.connect()
    local_image = f"{image_name}:sha-{source.short}"
    if docker_engine.inspect_image(engine, local_image) is None:
        progress(f"no image for commit {source.short} yet: building {local_image}")
        build()
    sbom_file = describe(engine, root, local_image)
    if repository.is_artifact_registry and (done := configure_auth(repository.host)):
        progress(done)
    registry = registry or RegistryClient(
        repository.host, credentials=docker_credentials(repository.host)
    )
    plan = prepare(
        engine,
        registry,
        repository=repository,
        local_image=local_image,
        version=version,
        source=source,
        force=force,
    )
    return execute(
        plan,
        engine,
        registry,
        local_image=local_image,
        record_path=record_path,
        progress=progress,
        sbom_file=sbom_file,
    )


def summary_table(result: PushResult) -> Table:
    """Tags, what happened to each, and the digest to pin."""
    table = Table(title=f"{result.record.image} {result.record.version}", title_justify="left")
    table.add_column("tag")
    table.add_column("kind")
    table.add_column("action")
    table.add_column("digest")
    for plan in result.plan.tags:
        style = "green" if plan.action.pushes else "dim"
        digest = result.record.digest
        if plan.action is Action.NEWER and plan.current is not None:
            digest = f"{plan.current.digest} ({plan.current.version})"
        table.add_row(plan.tag.name, plan.tag.kind.value, plan.action.value, digest, style=style)
    return table


def summary_line(result: PushResult, record_path: Path) -> str:
    """Time, bytes and where the record is: what the next person needs from this push."""
    if result.plan.is_noop:
        head = f"nothing to push: every tag already points to {result.record.digest}"
    else:
        head = (
            f"pushed in {result.seconds:.1f} s, uploaded {result.uploaded_layers} of "
            f"{result.total_layers} layers ({_size(result.uploaded_bytes)} compressed)"
        )
    if result.sbom is not None:
        head += f"\n{sbom_release.summary(result.sbom)}"
    return f"{head}\nrecord: {record_path}; pin deploys to {result.record.ref}"


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"
