"""Building the images: build arguments, tags, and the build itself.

`build_images()` is what `invoke build` (and the smoke tests, and the stack and release
tasks) call. It builds each target under a temporary tag, has image_checks.py examine it
(size, layers, history, labels, env, user, healthcheck) and sbom.py describe it (an SBOM
checked against the lock), and only when every check passes moves the real tags
(`<version>`, `sha-<7>[-dirty]`) onto it and writes the SBOMs to build/sbom/. A failed build
or check leaves no new tag and no SBOM.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gemini_workflow import docker_engine, lockfile, sbom, wheelhouse
from gemini_workflow.errors import WorkflowError
from gemini_workflow.image_checks import (
    Budgets,
    ImageCheckFailed,
    ImageReport,
    dockerfile_secret_names,
    examine,
    known_secret_values,
)

DOCKERFILE = Path("containers/Dockerfile")
# What the Dockerfile copies or mounts from the build context.
IMAGE_INPUTS = ("pyproject.toml", "src/gemini_service", "containers")
TARGETS = ("app", "fake")
# Build arguments that select the offline path: the same Dockerfile, other inputs.
OFFLINE_INDEX_OPTIONS = "--no-index --find-links /wheels"


@dataclass(frozen=True)
class SourceInfo:
    """What the image is built from: project metadata and the git state."""

    version: str
    revision: str
    dirty: bool
    created: str
    source_url: str
    licenses: str
    epoch: int = 0
    """The commit time in seconds: SOURCE_DATE_EPOCH for a reproducible image config."""

    @property
    def short_sha(self) -> str:
        return self.revision[:7]


def read_source_info(root: Path) -> SourceInfo:
    """Version and labels from pyproject.toml, revision and time from git.

    The creation time is the commit time, not "now", so rebuilding the same commit gives
    the same labels (and the same image ID when the layers are cached).
    """
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]

    def git(*args: str) -> str:
        try:
            result = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise WorkflowError(
                f"cannot read the git state of {root} ({exc}): build from a git clone"
            ) from exc
        return result.stdout.strip()

    revision = git("rev-parse", "HEAD")
    # Like `git describe --dirty` (changed tracked files), plus new files where the image
    # takes its inputs from: those would be built in without being in the commit.
    dirty = bool(
        git("status", "--porcelain", "--untracked-files=no")
        or git("status", "--porcelain", "--untracked-files=all", "--", *IMAGE_INPUTS)
    )
    committed = datetime.fromisoformat(git("log", "-1", "--format=%cI"))
    license_field = project.get("license", "")
    licenses = license_field if isinstance(license_field, str) else license_field.get("text", "")
    return SourceInfo(
        version=project["version"],
        revision=revision,
        dirty=dirty,
        created=committed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        epoch=int(committed.timestamp()),
        source_url=project.get("urls", {}).get("Source", ""),
        licenses=licenses,
    )


def image_tags(info: SourceInfo) -> tuple[str, str]:
    """`<version>` for people, `sha-<7>` for machines; `-dirty` when the tree has changes.

    A dirty marker keeps an image built from uncommitted work from posing as the commit.
    """
    suffix = "-dirty" if info.dirty else ""
    return info.version, f"sha-{info.short_sha}{suffix}"


def fake_image_name(name: str) -> str:
    return f"{name}-fake"


def release_fake_image(root: Path, name: str) -> str:
    """The fake image `invoke build` tagged with this checkout's version: the one that goes
    with a release wherever the stack needs a fake upstream (verify, deploy)."""
    from gemini_workflow.release import project_version

    return f"{fake_image_name(name)}:{project_version(root)}"


def image_name_for(name: str, target: str) -> str:
    return fake_image_name(name) if target == "fake" else name


def validate_python_version(version: str) -> str:
    """Major.minor only: it names the venv's site-packages directory in the Dockerfile."""
    if not re.fullmatch(r"3\.\d{1,2}", version):
        raise WorkflowError(f"--python-version must look like 3.11 (major.minor), not {version!r}")
    return version


def targets_for(choice: str) -> tuple[str, ...]:
    if choice == "all":
        return TARGETS
    if choice in TARGETS:
        return (choice,)
    raise WorkflowError(f"--target must be one of app, fake, all, not {choice!r}")


def build_args(
    info: SourceInfo, *, python_base: str, python_version: str, offline: bool
) -> dict[str, str]:
    """The Dockerfile's build arguments. Offline differs only in where inputs come from."""
    args = {
        "PYTHON_BASE": python_base,
        "PYTHON_VERSION": python_version,
        "VERSION": info.version,
        "REVISION": info.revision,
        "CREATED": info.created,
        # BuildKit dates the image config and its history with this instead of the build time.
        "SOURCE_DATE_EPOCH": str(info.epoch),
        "SOURCE": info.source_url,
        "LICENSES": info.licenses,
    }
    if offline:
        args["WHEELHOUSE"] = "local"
        args["INDEX_OPTIONS"] = OFFLINE_INDEX_OPTIONS
    return args


# --- the build ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildRequest:
    """Everything `build_images` needs; tasks fill it from invoke config and options."""

    root: Path
    name: str
    python_base: str
    python_version: str = "3.11"
    targets: Sequence[str] = TARGETS
    offline: bool = False
    budgets: Budgets = field(default_factory=lambda: Budgets(400, 200, 12))
    no_cache: bool = False
    quiet: bool = False
    # Secrets that must not appear anywhere (the caller's GEMINI_API_KEY, normally).
    known_secrets: Sequence[str] = ()

    def build_args(self, info: SourceInfo) -> dict[str, str]:
        """This request's build arguments for the source `info` describes."""
        return build_args(
            info,
            python_base=self.python_base,
            python_version=self.python_version,
            offline=self.offline,
        )


def preflight(request: BuildRequest) -> None:
    """Cheap checks that fail before any engine time is spent."""
    validate_python_version(request.python_version)
    for target in request.targets:
        targets_for(target)
    if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", request.name):
        raise WorkflowError(f"--name {request.name!r} is not a valid image repository name")
    named = dockerfile_secret_names((request.root / DOCKERFILE).read_text())
    if named:
        raise WorkflowError(
            f"{DOCKERFILE} declares secret-looking {', '.join(named)}: ARG and ENV values are"
            " stored in the image. Pass secrets at run time (env or a mounted file) instead."
        )
    lockfile.check(request.root)
    if request.offline and not wheelhouse.is_current(request.root, request.python_version):
        raise WorkflowError(
            f"offline mode but {wheelhouse.WHEELHOUSE} is missing or older than {lockfile.LOCK}:"
            " run `invoke bootstrap` to refresh it"
        )


def ensure_base(client: Any, ref: str, offline: bool) -> dict[str, Any]:
    """The base image's inspect data, pulling it online; a clear error when unavailable."""
    found = docker_engine.inspect_image(client, ref)
    if found is not None:
        return found
    if offline:
        raise WorkflowError(f"base image {ref} is missing: run `invoke bootstrap` to build it")
    try:
        docker_engine.pull_image(ref)
    except (WorkflowError, subprocess.TimeoutExpired) as exc:
        raise WorkflowError(
            f"base image {ref} is unavailable ({exc}). Without Docker Hub access run"
            " `invoke bootstrap`: it builds local stand-ins and switches to offline mode."
        ) from exc
    pulled = docker_engine.inspect_image(client, ref)
    assert pulled is not None
    return pulled


def build_one(spec: docker_engine.BuildSpec, request: BuildRequest) -> None:
    """One target; an online failure also names the usual cause on hosts like CI's."""
    try:
        docker_engine.build(spec, quiet=request.quiet)
    except docker_engine.EngineUnavailable:
        raise
    except WorkflowError as exc:
        if request.offline:
            raise
        raise WorkflowError(
            f"{exc} Online builds download wheels from PyPI inside the build; where containers"
            " cannot reach it, run `invoke bootstrap` (it switches to offline builds)."
        ) from exc


def build_images(request: BuildRequest, client: Any | None = None) -> list[ImageReport]:
    """Build, check and tag each target; raise WorkflowError with nothing new left behind."""
    preflight(request)
    client = client or docker_engine.connect()
    info = read_source_info(request.root)
    base = ensure_base(client, request.python_base, request.offline)
    args = request.build_args(info)
    temporary: list[str] = []
    reports: list[ImageReport] = []
    try:
        for target in request.targets:
            temp = f"{image_name_for(request.name, target)}:build-{secrets.token_hex(4)}"
            temporary.append(temp)
            spec = docker_engine.BuildSpec(
                context=request.root,
                dockerfile=request.root / DOCKERFILE,
                target=target,
                tags=[temp],
                build_args=args,
                no_cache=request.no_cache,
                network="none" if request.offline else None,
            )
            build_one(spec, request)
            inspect = docker_engine.inspect_image(client, temp)
            if inspect is None:
                raise WorkflowError(f"the build reported success but {temp} is missing")
            history = docker_engine.image_history(client, temp)
            reports.append(
                examine(target, inspect, history, base, request.budgets, request.known_secrets)
            )
        failing = [r for r in reports if r.problems]
        if failing:
            details = "; ".join(f"{r.target}: {', '.join(r.problems)}" for r in failing)
            raise ImageCheckFailed(details, reports)
        sha_tag = image_tags(info)[1]
        described = [
            sbom.generate(client, request.root, temp, name=temp.rpartition(":")[0], tag=sha_tag)
            for temp in temporary
        ]
        for report, temp, content in zip(reports, temporary, described, strict=True):
            repository = temp.rpartition(":")[0]
            report.tags = [f"{repository}:{tag}" for tag in image_tags(info)]
            for tag in report.tags:
                docker_engine.tag_image(client, temp, tag)
            report.sbom = sbom.write(sbom.sbom_path(request.root, repository, sha_tag), content)
    finally:
        for temp in temporary:
            docker_engine.remove_image(client, temp)
    return reports


def request_from_config(
    config: Any,
    *,
    root: Path,
    target: str = "all",
    python_version: str = "",
    name: str = "",
    no_cache: bool = False,
    quiet: bool = False,
    environ: Mapping[str, str] | None = None,
) -> BuildRequest:
    """Map invoke config (`image.*`, `images.python`, `offline`) and task options to a request.

    `config` is invoke's Config or a plain dict of the same shape (tests).

    A Python version other than the pinned one online means the official image for that
    version by tag (unpinned, so say so); offline the stand-in is what exists, and the
    Dockerfile's version check explains a mismatch.
    """
    image = config["image"]
    pinned_version = str(image["python_version"])
    version = validate_python_version(python_version or pinned_version)
    offline = bool(config.get("offline", False))
    base = str(config["images"]["python"])
    if version != pinned_version and not offline and base.startswith("python:"):
        base = f"python:{version}-slim-bookworm"
    return BuildRequest(
        root=root,
        name=name or str(image["name"]),
        python_base=base,
        python_version=version,
        targets=targets_for(target),
        offline=offline,
        budgets=Budgets.from_config(image["budgets"]),
        no_cache=no_cache,
        quiet=quiet,
        known_secrets=known_secret_values(environ or {}),
    )
