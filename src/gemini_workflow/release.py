"""Release rules: which tags a version gets, where the image goes, and which tags may move.

Everything here is decided before anything is pushed, from plain values, so the rules are
unit-tested without an engine or a registry. `publish.py` carries the plan out.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from semver import Version

from gemini_workflow.errors import WorkflowError

# The image's own statement of what it is (the Dockerfile's LABELs, from `invoke build`).
VERSION_LABEL = "org.opencontainers.image.version"
REVISION_LABEL = "org.opencontainers.image.revision"


class ReleaseError(WorkflowError):
    """A release precondition failed; the message says what to do next."""


# The PEP 440 spellings people write in pyproject.toml, to suggest the semver one.
_PEP440_PRE = re.compile(r"^(\d+\.\d+\.\d+)[-._]?(a|b|rc|alpha|beta)[-._]?(\d+)$")


def parse_version(text: str) -> Version:
    """A semantic version (semver.org 2.0.0), the only kind a release may carry.

    Build metadata is refused: `+` is not allowed in a Docker tag.
    """
    try:
        version = Version.parse(text)
    except ValueError:
        raise ReleaseError(_not_semver_message(text)) from None
    if version.build:
        raise ReleaseError(_not_semver_message(text))
    return version


def _not_semver_message(text: str) -> str:
    hint = "write it as MAJOR.MINOR.PATCH, e.g. 1.2.0 or 1.3.0-rc.1"
    if pre := _PEP440_PRE.match(text):
        label = {"a": "alpha", "b": "beta"}.get(pre[2], pre[2])
        hint = f"write it as {pre[1]}-{label}.{pre[3]}"
    elif "+" in text:
        hint = "drop the build metadata (+...): a Docker tag cannot contain '+'"
    return (
        f"version {text!r} in pyproject.toml is not a semantic version; {hint} "
        "(releases are tagged by version, so it must be one)"
    )


class TagKind(StrEnum):
    """Why a tag exists, which decides whether it may move."""

    VERSION = "version"  # the exact release: immutable
    ALIAS = "alias"  # 1.2, 1, latest: follow the newest release
    REVISION = "revision"  # sha-<7>: the trace to the source commit

    @property
    def immutable(self) -> bool:
        return self is TagKind.VERSION


@dataclass(frozen=True)
class Tag:
    name: str
    kind: TagKind


@dataclass(frozen=True)
class SourceState:
    """The git state an image is released from."""

    revision: str
    dirty_paths: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        return self.revision[:7]


def release_tags(version: Version, source: SourceState) -> list[Tag]:
    """The tags docker/metadata-action would compute for a `v<version>` git tag plus a sha tag.

    A pre-release gets only its own tag and the sha tag (it must not become `latest` or `1.3`);
    a 0.x release gets no bare major tag (`0` would span incompatible versions).
    """
    if source.dirty_paths:
        shown = ", ".join(source.dirty_paths[:5])
        more = f" and {len(source.dirty_paths) - 5} more" if len(source.dirty_paths) > 5 else ""
        raise ReleaseError(
            f"the working tree has uncommitted changes ({shown}{more}); an image is released "
            "only from a commit, so that sha-<commit> names exactly what is inside. "
            "Commit or stash them, then run again."
        )
    if not re.fullmatch(r"[0-9a-f]{7,40}", source.revision):
        raise ReleaseError(f"{source.revision!r} is not a git commit id")
    tags = [Tag(str(version), TagKind.VERSION)]
    if not version.prerelease:
        tags.append(Tag(f"{version.major}.{version.minor}", TagKind.ALIAS))
        if version.major > 0:
            tags.append(Tag(str(version.major), TagKind.ALIAS))
    tags.append(Tag(f"sha-{source.short}", TagKind.REVISION))
    if not version.prerelease:
        tags.append(Tag("latest", TagKind.ALIAS))
    return tags


# Docker's rule: the first path component is a registry host if it has a '.', a port, or is
# localhost (an IPv6 literal in brackets counts too).
_HOST = re.compile(
    r"^(?:localhost|\[[0-9a-fA-F:]+\]|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+(?=:))"
    r"(?::\d+)?$"
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclass(frozen=True)
class Repository:
    """`host/namespace.../name`: where an image is pushed."""

    host: str
    path: str

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"

    def at_tag(self, tag: str) -> str:
        return f"{self}:{tag}"

    def at_digest(self, digest: str) -> str:
        return f"{self}@{digest}"

    @property
    def is_artifact_registry(self) -> bool:
        """Google Artifact Registry Docker hosts: `<location>-docker.pkg.dev`."""
        return self.host.endswith("-docker.pkg.dev")


def _checked_path(path: str, what: str) -> str:
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            raise ReleaseError(
                f"{what} {path!r} is not a valid repository path: each part is lowercase "
                "letters and digits, separated by '.', '_' or '-'"
            )
    return path


def target_repository(registry: str, image_name: str) -> Repository:
    """`HOST[/NAMESPACE]` (from config or --registry) plus the image name."""
    host, _, namespace = registry.strip().rstrip("/").partition("/")
    if not _HOST.match(host):
        raise ReleaseError(
            f"registry {registry!r} does not start with a registry host; give HOST[/NAMESPACE], "
            "e.g. 127.0.0.1:5000/llm-apps or us-docker.pkg.dev/my-project/llm-apps"
        )
    path = f"{namespace}/{image_name}" if namespace else image_name
    return Repository(host, _checked_path(path, "image"))


def configured_registry(override: str, config: Mapping[str, Any]) -> str:
    """--registry, else `release.registry`, else the Artifact Registry built from config."""
    if override or config.get("registry"):
        return str(override or config["registry"])
    return artifact_registry(
        str(config.get("location", "us")),
        str(config.get("project") or ""),
        str(config.get("repository", "llm-apps")),
    )


def artifact_registry(location: str, project: str, repository: str) -> str:
    """The default registry: an Artifact Registry Docker repository."""
    if not project:
        raise ReleaseError(
            "no registry configured: set release.project to your Google Cloud project "
            "(invoke.yaml or INVOKE_RELEASE_PROJECT=...), or pass --registry HOST[/NAMESPACE], "
            "e.g. --registry 127.0.0.1:5000/llm-apps after `invoke registry.up`"
        )
    return f"{location}-docker.pkg.dev/{project}/{repository}"


@dataclass(frozen=True)
class ImageReference:
    """`repository[:tag][@digest]`, as `invoke verify --ref REF` accepts it."""

    repository: Repository
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        name, _, digest = text.partition("@")
        tag = None
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = name.rsplit(":", 1)
        host, _, path = name.partition("/")
        if not path or not _HOST.match(host):
            raise ReleaseError(
                f"{text!r} is not a registry image reference; expected "
                "HOST/PATH[:TAG][@sha256:DIGEST], e.g. 127.0.0.1:5000/llm-apps/gemini-service:1.2.0"
            )
        if digest and not _DIGEST.match(digest):
            raise ReleaseError(f"{digest!r} in {text!r} is not a sha256 digest")
        if tag is not None and not _TAG.match(tag):
            raise ReleaseError(f"{tag!r} in {text!r} is not a valid tag")
        if tag is None and not digest:
            tag = "latest"
        return cls(Repository(host, _checked_path(path, "image")), tag, digest or None)

    def __str__(self) -> str:
        text = str(self.repository)
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


class Action(StrEnum):
    """What a push does to one tag."""

    CREATE = "create"
    UNCHANGED = "unchanged"
    MOVE = "move"
    OVERWRITE = "overwrite (forced)"
    REFUSE = "refuse"
    NEWER = "kept (newer release)"  # an alias already on a newer version stays there

    @property
    def pushes(self) -> bool:
        return self in {Action.CREATE, Action.MOVE, Action.OVERWRITE}


@dataclass(frozen=True)
class RemoteTag:
    """What a tag points to in the registry: the manifest, and the image (config) inside it."""

    digest: str
    image_id: str
    version: str | None = None  # org.opencontainers.image.version of that image, if labelled


@dataclass(frozen=True)
class TagPlan:
    tag: Tag
    action: Action
    current: RemoteTag | None


def plan_tags(
    tags: Sequence[Tag],
    image_id: str,
    remote: Mapping[str, RemoteTag | None],
    *,
    force: bool,
    version: Version | None = None,
) -> list[TagPlan]:
    """Decide per tag: create, leave, move, or refuse.

    Content is compared by image id (the digest of the image config, which names the layers
    and the metadata), not by manifest digest: the same image pushed by another tool may be
    compressed differently, and is still the same release. Aliases only move forward: a
    1.1.5 hotfix pushed after 1.2.0 leaves `latest` and `1` on 1.2.0.
    """
    plans = []
    for tag in tags:
        current = remote.get(tag.name)
        if current is None:
            action = Action.CREATE
        elif current.image_id == image_id:
            action = Action.UNCHANGED
        elif tag.kind is TagKind.ALIAS and _newer(current.version, version):
            action = Action.NEWER
        elif not tag.kind.immutable:
            action = Action.MOVE
        else:
            action = Action.OVERWRITE if force else Action.REFUSE
        plans.append(TagPlan(tag, action, current))
    return plans


def _newer(remote: str | None, ours: Version | None) -> bool:
    """True when the remote image's version label is a newer semantic version than ours."""
    if remote is None or ours is None:
        return False
    try:
        return parse_version(remote) > ours
    except ReleaseError:  # an unlabelled or non-semver image: the alias just moves
        return False


def refusal_message(repository: Repository, plans: Sequence[TagPlan]) -> str | None:
    refused = [p for p in plans if p.action is Action.REFUSE]
    if not refused:
        return None
    lines = ", ".join(
        f"{repository.at_tag(p.tag.name)} already points to {p.current.digest}"
        for p in refused
        if p.current is not None
    )
    return (
        f"{lines} with different content; a version tag is immutable, so a deploy pinned to it "
        "keeps meaning the same image. Bump the version in pyproject.toml, or pass --force "
        "if you really mean to replace a published version."
    )


@dataclass(frozen=True)
class ReleaseRecord:
    """What was released, written so that a deploy can pin `image@digest`."""

    image: str
    digest: str
    tags: list[str]
    version: str
    revision: str
    pushed_at: str
    # The digest of the SBOM artifact attached to `digest`; records written before SBOMs
    # were attached have none.
    sbom: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.image}@{self.digest}"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**asdict(self), "ref": self.ref}
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> ReleaseRecord:
        try:
            data = json.loads(path.read_text())
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except FileNotFoundError:
            raise ReleaseError(
                f"no release record at {path}; run `invoke push` first, or pass a reference: "
                "`invoke verify --ref HOST/PATH@sha256:...`"
            ) from None
        except (ValueError, KeyError, TypeError) as error:
            raise ReleaseError(f"{path} is not a release record ({error}); push again") from None


def project_version(project_dir: Path) -> Version:
    """The version in pyproject.toml: the one place it is written."""
    text = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]["version"]
    return parse_version(text)


def source_state(project_dir: Path) -> SourceState:
    """HEAD and the uncommitted paths (untracked ones too: they could enter the build context)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(project_dir), *args], check=True, capture_output=True, text=True
            ).stdout
        except subprocess.CalledProcessError as error:
            raise ReleaseError(
                f"git {' '.join(args)} failed in {project_dir}: {error.stderr.strip()}"
            ) from None

    revision = git("rev-parse", "HEAD").strip()
    dirty = tuple(line[3:] for line in git("status", "--porcelain").splitlines() if line)
    return SourceState(revision, dirty)
