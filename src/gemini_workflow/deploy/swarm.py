"""What the deploy asks of Docker Swarm: the node's role, the stack, its services' state.

The docker SDK reads (node, services, tasks, secrets, configs); the CLI deploys and removes
stacks, because `docker stack deploy` is what reads a compose file for swarm. Service states are
read into plain values (ServiceStatus) so every decision about them is unit-tested.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import docker.errors

from gemini_workflow.errors import WorkflowError

STACK_LABEL: Final = "com.docker.stack.namespace"
LOOPBACK: Final = "127.0.0.1"


class SwarmError(WorkflowError):
    """The engine cannot run the stack, or a command failed; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the stack: replicas, the image it runs and its last update's state."""

    name: str
    image: str
    running: int
    desired: int
    update_state: str = ""
    update_message: str = ""
    template: str = ""
    """A digest of the task template: when it changes, swarm rolls the service's tasks."""
    update_started: datetime | None = None

    @property
    def converged(self) -> bool:
        updating = self.update_state in ("updating", "rollback_started")
        return self.running == self.desired and not updating

    @property
    def short_name(self) -> str:
        return self.name.split("_", 1)[-1]


def role(client: Any) -> str:
    """`manager`, `worker`, `inactive` (no swarm) or another LocalNodeState (pending, error)."""
    swarm = client.info().get("Swarm") or {}
    state = str(swarm.get("LocalNodeState", "inactive"))
    if state != "active":
        return state
    return "manager" if swarm.get("ControlAvailable") else "worker"


def require_manager(client: Any) -> bool:
    """Make sure stacks can be deployed here; True when a single-node swarm was created."""
    current = role(client)
    if current == "manager":
        return False
    if current == "inactive":
        client.swarm.init(advertise_addr=LOOPBACK, listen_addr=f"{LOOPBACK}:2377")
        return True
    if current == "worker":
        raise SwarmError(
            "this engine is a swarm worker; stacks are deployed from a manager: run `invoke"
            " deploy` on a manager node (or point DOCKER_HOST at one)"
        )
    raise SwarmError(f"this engine's swarm state is {current!r}: fix the swarm, then retry")


def leave(client: Any) -> None:
    """Leave the swarm, and remove the bridge swarm mode created on this host."""
    client.swarm.leave(force=True)
    for network in client.networks.list(names=["docker_gwbridge"]):
        with contextlib.suppress(docker.errors.APIError):  # still used by a container: keep it
            network.remove()


def stack_command(stack_file: Path, stack: str, *, registry_auth: bool = True) -> list[str]:
    """`docker stack deploy` as the deploy runs it (the engine converges in the background).

    `--resolve-image never`: the app image is already pinned by digest, and the proxy and fake
    may be local-only images on a single-node swarm.
    """
    command = ["docker", "stack", "deploy", "--resolve-image", "never", "--detach=true"]
    command += ["--prune", "--compose-file", str(stack_file)]
    command += ["--with-registry-auth"] if registry_auth else []
    return [*command, stack]


def run_cli(command: Sequence[str], env: Mapping[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        list(command),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise SwarmError(f"`{' '.join(command[:3])}` failed:\n{tail}")
    return done.stdout


def services(client: Any, stack: str) -> list[Any]:
    found: list[Any] = client.services.list(filters={"label": f"{STACK_LABEL}={stack}"})
    return found


def service_status(service: Any) -> ServiceStatus:
    """The state `deploy.status` shows and the waits decide on (running counts healthy tasks:
    swarm starts a task with a health check in `starting` and moves it to `running` when
    healthy)."""
    attrs = service.attrs
    spec = attrs["Spec"]
    tasks = service.tasks(filters={"desired-state": "running"})
    running = sum(1 for task in tasks if task["Status"]["State"] == "running")
    update = attrs.get("UpdateStatus") or {}
    started = update.get("StartedAt")
    return ServiceStatus(
        name=str(spec["Name"]),
        image=str(spec["TaskTemplate"]["ContainerSpec"]["Image"]),
        running=running,
        desired=int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)),
        update_state=str(update.get("State", "")),
        update_message=str(update.get("Message", "")),
        template=hashlib.sha256(
            json.dumps(spec["TaskTemplate"], sort_keys=True).encode()
        ).hexdigest(),
        update_started=parse_time(str(started)) if started else None,
    )


def parse_time(text: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds; Python reads microseconds."""
    head, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(fraction or '0')[:6]:0<6}+00:00")


def statuses(client: Any, stack: str) -> list[ServiceStatus]:
    return sorted((service_status(s) for s in services(client, stack)), key=lambda s: s.name)


def stack_objects(client: Any, stack: str) -> dict[str, list[Any]]:
    """The stack's secrets, configs and networks (what `docker stack rm` may leave)."""
    label = {"label": f"{STACK_LABEL}={stack}"}
    return {
        "secret": client.secrets.list(filters=label),
        "config": client.configs.list(filters=label),
        "network": client.networks.list(filters=label),
    }


def remove_unused(client: Any, stack: str, keep: set[str]) -> list[str]:
    """Remove older secret and config versions no service uses any more; returns their names."""
    removed = []
    objects = stack_objects(client, stack)
    for item in [*objects["secret"], *objects["config"]]:
        if item.name in keep:
            continue
        try:
            item.remove()
        except docker.errors.APIError:  # still referenced (e.g. a task shutting down)
            continue
        removed.append(str(item.name))
    return removed


def published_by_others(client: Any, port: int, stack: str) -> str | None:
    """A container outside this stack that publishes `port` (a compose stack, say)."""
    for container in client.containers.list(filters={"publish": str(port)}):
        if (container.labels or {}).get(STACK_LABEL) != stack:
            owner = (container.labels or {}).get("com.docker.compose.project")
            return f"container {container.name}" + (f" of compose project {owner}" if owner else "")
    return None
