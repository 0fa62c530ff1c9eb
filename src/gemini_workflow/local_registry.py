"""A registry on loopback, so the whole release flow runs without a cloud account.

Where Docker Hub is reachable it is the official `registry:2` image (pinned by digest); on
hosts prepared by `invoke bootstrap` (offline) it is Debian's build of the same program,
`docker-registry`, run as a background process. Either way the storage lives in a git-ignored
folder and survives `down`/`up`, like a real registry.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemini_workflow import wait
from gemini_workflow.errors import WorkflowError
from gemini_workflow.registry import RegistryClient

BINARY_NAME = "docker-registry"
DEBIAN_PACKAGE = "docker-registry"
# registry 2.8.3, the last 2.x; the same program Debian ships as docker-registry 2.8.2.
OFFICIAL_IMAGE = (
    "registry:2@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373"
)
READY_TIMEOUT = 15.0
ADDRESS_LABEL = "org.gemini-service.registry.address"


class LocalRegistryError(WorkflowError):
    """The local registry could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class LocalRegistry:
    """Where the local registry listens and keeps its files."""

    state_dir: Path  # config.yml, data/, registry.pid, registry.log
    host: str = "127.0.0.1"
    port: int = 5000
    use_container: bool = False  # official image instead of Debian's binary
    image: str = OFFICIAL_IMAGE

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "config.yml"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "registry.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "registry.log"

    container_name: str = "gemini-service-registry"

    def client(self) -> RegistryClient:
        return RegistryClient(self.address, timeout=5)


def from_config(config: Any, *, root: Path, port: int = 0) -> LocalRegistry:
    """The registry invoke config describes (`registry.*`); offline hosts run Debian's binary."""
    registry = config["registry"]
    return LocalRegistry(
        state_dir=root / str(registry["dir"]),
        host=str(registry["host"]),
        port=port or int(registry["port"]),
        use_container=not bool(config["offline"]),
    )


def config_text(spec: LocalRegistry) -> str:
    """No auth (loopback only), deletes allowed (so tags can be cleaned up), plain HTTP."""
    return (
        "# Written by `invoke registry.up`; regenerated on every start.\n"
        "version: 0.1\n"
        "log:\n  level: info\n  formatter: text\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {spec.data_dir.resolve()}\n"
        "  delete:\n    enabled: true\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"http:\n  addr: {spec.address}\n"
        "  headers:\n    X-Content-Type-Options: [nosniff]\n"
    )


def up(spec: LocalRegistry) -> str:
    """Start the registry unless ours already runs; returns what happened, for the user."""
    running = _running_address(spec)
    if running == spec.address:
        _wait_ready(spec)
        return f"the local registry already runs on {spec.address}"
    if running is not None:
        raise LocalRegistryError(
            f"the local registry already runs on {running}; use that address, or stop it first "
            "with `invoke registry.down`"
        )
    if spec.client().ping():
        raise LocalRegistryError(
            f"something else already serves a registry on {spec.address}; stop it, or pick "
            "another port: --port N (or INVOKE_REGISTRY_PORT=N)"
        )
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    if spec.use_container:
        _start_container(spec)
    else:
        _start_process(spec)
    _wait_ready(spec)
    return f"started the local registry on {spec.address} (storage: {spec.data_dir})"


def _running_address(spec: LocalRegistry) -> str | None:
    """host:port of our running registry (process or container), None when none runs."""
    if _running_pid(spec) is not None:
        match = re.search(r"^\s*addr:\s*(\S+)", spec.config_file.read_text(), re.MULTILINE)
        return match[1] if match else None
    return _container_address(spec)


def down(spec: LocalRegistry, *, purge: bool = False) -> str:
    """Stop the registry (both kinds, whichever runs); `purge` also deletes the stored images."""
    running = _running_address(spec)
    stopped = _stop_process(spec) or _stop_container(spec)
    if purge and spec.data_dir.exists():
        shutil.rmtree(spec.data_dir)
    said = f"stopped the registry on {running}" if stopped else "no local registry was running"
    return f"{said}; deleted {spec.data_dir}" if purge else said


def tools_dir() -> Path:
    """Where `invoke bootstrap` puts host tools it takes out of Debian packages."""
    if os.geteuid() == 0:
        return Path("/usr/local/lib/gemini-service")
    return Path.home() / ".local" / "share" / "gemini-service"


def find_binary(directory: Path | None = None) -> Path | None:
    """Debian's registry program: on PATH (installed with apt) or where bootstrap put it."""
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    candidate = (directory or tools_dir()) / BINARY_NAME
    return candidate if candidate.is_file() else None


def ensure_binary() -> Path:
    binary = find_binary()
    if binary is None:
        raise LocalRegistryError(
            f"Debian's {BINARY_NAME} is not installed (this host builds offline, so the"
            " registry:2 image is out of reach): run `invoke bootstrap`, which fetches it"
        )
    return binary


def _start_process(spec: LocalRegistry) -> None:
    binary = ensure_binary()
    spec.config_file.write_text(config_text(spec))
    with spec.log_file.open("ab") as log:
        process = subprocess.Popen(
            [binary, "serve", str(spec.config_file.resolve())],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the invoke process, ignores its Ctrl-C
        )
    spec.pid_file.write_text(f"{process.pid}\n")


def _running_pid(spec: LocalRegistry) -> int | None:
    """Our registry process from the pid file, if it still runs and really is ours."""
    try:
        pid = int(spec.pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(spec.config_file.resolve()).encode() in cmdline else None


def _alive(pid: int) -> bool:
    """The process still runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _started_pid(spec: LocalRegistry) -> int:
    try:
        return int(spec.pid_file.read_text())
    except (OSError, ValueError):
        return -1


def _stop_process(spec: LocalRegistry) -> bool:
    pid = _running_pid(spec)
    spec.pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)

    def gone() -> bool:
        _reap(pid)
        return not _alive(pid)

    with contextlib.suppress(wait.WaitTimeout):
        wait.until(gone, timeout=5, interval=0.05, what="the registry exiting")
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when we are the parent (tests start and stop in one process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _docker() -> Any:
    from gemini_workflow import docker_engine

    return docker_engine.connect(timeout=60)


def _container_address(spec: LocalRegistry) -> str | None:
    import docker.errors

    try:
        container = _docker().containers.get(spec.container_name)
    except (docker.errors.DockerException, WorkflowError):  # no such container, or no engine
        return None
    if container.status != "running":
        return None
    return str(container.labels.get(ADDRESS_LABEL)) or None


def _start_container(spec: LocalRegistry) -> None:
    import docker.errors

    client = _docker()
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(spec.container_name).remove(force=True)
    try:
        client.containers.run(
            spec.image,
            name=spec.container_name,
            detach=True,
            ports={"5000/tcp": (spec.host, spec.port)},
            volumes={str(spec.data_dir.resolve()): {"bind": "/var/lib/registry", "mode": "rw"}},
            environment={"REGISTRY_STORAGE_DELETE_ENABLED": "true"},
            labels={ADDRESS_LABEL: spec.address},
            restart_policy={"Name": "unless-stopped"},
        )
    except docker.errors.ImageNotFound:
        raise LocalRegistryError(
            f"cannot pull {spec.image}; on a host without Docker Hub run `invoke bootstrap` "
            "(it switches to Debian's docker-registry)"
        ) from None
    except docker.errors.APIError as error:
        raise LocalRegistryError(f"cannot start the registry container: {error}") from None


def _stop_container(spec: LocalRegistry) -> bool:
    import docker.errors

    try:
        container = _docker().containers.get(spec.container_name)
    except (docker.errors.DockerException, WorkflowError):  # no such container, or no engine
        return False
    container.remove(force=True)
    return True


class _Exited(Exception):
    """The registry process is gone: waiting longer cannot help."""


def _wait_ready(spec: LocalRegistry) -> None:
    client = spec.client()

    def answers() -> bool:
        if client.ping():
            return True
        if not spec.use_container and not _alive(_started_pid(spec)):
            raise _Exited
        return False

    try:
        wait.until(answers, timeout=READY_TIMEOUT, interval=0.1, what="the registry answering")
    except (_Exited, wait.WaitTimeout):
        tail = spec.log_file.read_text()[-1500:] if spec.log_file.exists() else "(no log)"
        raise LocalRegistryError(
            f"the registry did not answer on {spec.address}; its log ({spec.log_file}) ends"
            f" with:\n{tail}"
        ) from None
