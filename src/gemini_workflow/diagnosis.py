"""What a compose project's containers say about themselves, and why a start failed.

Pure functions of `docker inspect` data (plain dicts), so every report is unit-tested without
an engine: the per-service state, the progress line shown while compose waits, the `invoke ps`
table, and the failure report that names the service, its last probe and its last log lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from rich.table import Table

PROJECT_LABEL: Final = "com.docker.compose.project"
SERVICE_LABEL: Final = "com.docker.compose.service"


@dataclass(frozen=True)
class ServiceState:
    """One service's container as the engine sees it, with the evidence for a diagnosis."""

    service: str
    container: str
    state: str
    health: str | None
    exit_code: int
    restarts: int
    health_output: str = ""
    log_tail: tuple[str, ...] = ()
    ports: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")

    @property
    def status(self) -> str:
        """The one word a person wants: healthy, starting, unhealthy, exited (1), ..."""
        if self.state == "running":
            return self.health or "running"
        if self.state == "exited":
            return f"exited ({self.exit_code})"
        if self.state == "restarting":
            return f"restarting (last exit {self.exit_code})"
        return self.state


def state_from_attrs(attrs: Mapping[str, Any], log_tail: Sequence[str] = ()) -> ServiceState:
    """Build a ServiceState from `docker inspect` data (a plain dict, so tests can fake it)."""
    state = attrs.get("State", {})
    health = state.get("Health") or {}
    probes = health.get("Log") or []
    last_output = str(probes[-1].get("Output", "")).strip() if probes else ""
    labels = attrs.get("Config", {}).get("Labels") or {}
    return ServiceState(
        service=labels.get(SERVICE_LABEL, "?"),
        container=str(attrs.get("Name", "")).lstrip("/"),
        state=str(state.get("Status", "unknown")),
        health=health.get("Status"),
        exit_code=int(state.get("ExitCode", 0)),
        restarts=int(attrs.get("RestartCount", 0)),
        health_output=last_output,
        log_tail=tuple(log_tail),
        ports=_published(attrs),
    )


def _published(attrs: Mapping[str, Any]) -> str:
    bindings = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    published = []
    for container_port, hosts in sorted(bindings.items()):
        for host in hosts or []:
            published.append(f"{host.get('HostIp', '')}:{host.get('HostPort')}->{container_port}")
    return ", ".join(published)


def progress_line(states: Sequence[ServiceState], elapsed: float, timeout: int) -> str:
    """One status line while compose waits: every service and where it stands."""
    parts = [f"{state.service} {state.status}" for state in states] or ["creating containers"]
    return f"waiting for healthy ({elapsed:.0f}/{timeout} s): {', '.join(parts)}"


def status_table(states: Sequence[ServiceState]) -> Table:
    """`invoke ps`: one row per service, health first because that is what people check."""
    from rich.table import Table

    table = Table("service", "status", "restarts", "published")
    colours = {"healthy": "green", "starting": "yellow"}
    for state in states:
        colour = colours.get(state.status, "green" if state.ok else "red")
        table.add_row(
            state.service,
            f"[{colour}]{state.status}[/{colour}]",
            str(state.restarts),
            state.ports,
        )
    return table


def diagnose(states: Sequence[ServiceState], compose_output: str = "") -> str:
    """A failure report: which services are not healthy, their last probe and log lines.

    A service is blamed only if it ran and is not ok; one never started (its dependency
    failed) is named, not blamed. If none failed (compose itself did, e.g. over a port or an
    image), compose's own last lines are the evidence.
    """
    lines: list[str] = []
    failed = [s for s in states if not s.ok and s.state != "created"]
    for state in failed:
        lines.extend(_blame(state))
    waiting = [s.service for s in states if s.state == "created"]
    if waiting:
        lines.append(f"not started, waiting for the above: {', '.join(waiting)}")
    if not failed:
        if states:
            lines.append("All containers look healthy, but compose reported a failure.")
        else:
            lines.append("No container was created.")
    tail = [line for line in compose_output.strip().splitlines() if line.strip()][-8:]
    if tail:
        lines.append("docker compose said:")
        lines.extend(f"  {line}" for line in tail)
    return "\n".join(lines)


def _blame(state: ServiceState) -> list[str]:
    lines = [f"✗ {state.service}: {state.status} (container {state.container})"]
    if state.restarts:
        lines.append(f"  restarted {state.restarts} time(s)")
    if state.health_output:
        lines.append("  last health check output:")
        lines.extend(f"    {line}" for line in state.health_output.splitlines()[-5:])
    if state.log_tail:
        lines.append(f"  last {len(state.log_tail)} log lines:")
        lines.extend(f"    {line}" for line in state.log_tail)
    else:
        lines.append("  (no log output)")
    return lines


def compose_verdict(output: str) -> str:
    """Compose's own last word on a failed `up`, e.g. "container x is unhealthy"."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "docker compose gave no reason"


def explain_compose_failure(output: str, port: int) -> str | None:
    """Known compose errors, translated into what to do; None when there is no better advice."""
    text = output.lower()
    if "port is already allocated" in text or "address already in use" in text:
        return (
            f"host port {port} was taken while the stack started; "
            f"choose another: invoke up --port {port + 1}"
        )
    if "no such image" in text or "pull access denied" in text or "manifest unknown" in text:
        return (
            "an image is missing and cannot be pulled (offline host?); run `invoke build` "
            "(and `invoke bootstrap` for the local nginx stand-in)"
        )
    if "cannot connect to the docker daemon" in text:
        return "the Docker engine stopped answering; start it and retry"
    return None
