"""Carry out a deploy plan on swarm: deploy or roll, wait for health, roll back, remove.

Swarm does the rolling (one task at a time, start-first, gated on the container's health
check) and the automatic rollback of a release that fails; this module starts it, watches it
converge with a progress line, tells a rollback from a success, and keeps a short history of
what was deployed so `deploy.rollback` knows where to go back to.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gemini_workflow import client_keys, probe, wait
from gemini_workflow.deploy import swarm
from gemini_workflow.deploy.history import History, history_path
from gemini_workflow.deploy.plan import STACK_FILE, DeployPlan, object_names, write_key_copy
from gemini_workflow.deploy.swarm import ServiceStatus, SwarmError
from gemini_workflow.errors import WorkflowError
from gemini_workflow.registry import RegistryClient, RegistryError, docker_credentials

Progress = Callable[[str], None]
APP_SERVICE = "gemini-app"
FAILED_UPDATE = ("rollback_completed", "rollback_paused", "paused")


class DeployError(WorkflowError):
    """The deploy did not converge, or the release was rolled back; says what is serving."""


def history_of(plan: DeployPlan) -> History:
    return History.load(history_path(plan.root, plan.stack))


@dataclass(frozen=True)
class Outcome:
    seconds: float
    statuses: Sequence[ServiceStatus]
    created_keys: bool
    answer: probe.Answer | None = None


def check_preconditions(plan: DeployPlan, client: Any) -> None:
    """Everything that can refuse, before anything changes: port, image, client keys."""
    holder = swarm.published_by_others(client, plan.port, plan.stack)
    if holder:
        raise DeployError(
            f"host port {plan.port} is published by {holder}; stop it (`invoke down` for the"
            f" compose stack) or deploy on another port: invoke deploy --port {plan.port + 1}"
        )
    repository = plan.app.repository
    registry = RegistryClient(repository.host, credentials=docker_credentials(repository.host))
    try:
        found = registry.manifest_digest(repository.path, str(plan.app.digest))
    except RegistryError as error:
        raise DeployError(f"cannot ask {repository.host} for {plan.app}: {error}") from None
    if found is None:
        raise DeployError(
            f"{plan.app} is not in the registry: push it first (`invoke push`), or pass the"
            " `ref` of a release that exists"
        )


def deploy(
    plan: DeployPlan, client: Any, *, timeout: float, progress: Progress = lambda _: None
) -> Outcome:
    """Deploy (first time) or roll (an update) to `plan.app`; raise DeployError if it fails.

    A first deploy that does not converge is removed again; a failed update has already been
    rolled back by swarm, and the message says which release failed and which one serves.
    """
    check_preconditions(plan, client)
    created_keys = client_keys.ensure(plan.client_keys)
    history = history_of(plan)
    created_swarm = swarm.require_manager(client)
    if created_swarm:
        history.created_swarm = True
        history.save()
    before = {status.name: status.template for status in swarm.statuses(client, plan.stack)}
    first = not before
    write_key_copy(plan)
    started = datetime.now(UTC)
    clock = time.monotonic()
    try:
        try:
            env = plan.stack_env()  # once, while the key copy exists: its digest names the secret
            swarm.run_cli(swarm.stack_command(plan.root / STACK_FILE, plan.stack), env)
        finally:  # swarm keeps the secret now: the plain copy is not left lying around
            if plan.key_file().is_relative_to(plan.state_dir):
                plan.key_file().unlink(missing_ok=True)
        statuses = converge(plan, client, started, before, timeout=timeout, progress=progress)
    except WorkflowError:
        if first:  # nothing half-deployed: what this deploy created goes again
            remove_stack(plan.stack, client)
            if created_swarm:
                swarm.leave(client)
                history.created_swarm = False
                history.save()
        raise
    history.record(str(plan.app))
    history.options = {"port": plan.port, "replicas": plan.replicas, "env": str(plan.env_file)}
    history.save()
    swarm.remove_unused(client, plan.stack, object_names(env))
    return Outcome(time.monotonic() - clock, statuses, created_keys)


def converge(
    plan: DeployPlan,
    client: Any,
    started: datetime,
    before: Mapping[str, str],
    *,
    timeout: float,
    progress: Progress = lambda _: None,
) -> list[ServiceStatus]:
    """Wait until every service runs its desired healthy tasks on the planned release.

    `before` holds each service's task template digest before the deploy: a service whose
    template changed (swarm then replaces its tasks) is settled only when the update swarm
    started for it after `started` has completed. Other spec changes need no update.
    """
    seen: list[ServiceStatus] = []

    def done() -> bool:
        seen[:] = swarm.statuses(client, plan.stack)
        progress(progress_line(seen))
        settled = [settle(plan, status, started, before) for status in seen]
        app = app_status(plan, seen)
        return bool(seen) and all(settled) and app is not None and app.image == str(plan.app)

    try:
        wait.until(done, timeout=timeout, interval=1.0, what="the stack converging")
    except wait.WaitTimeout:
        raise DeployError(
            f"the stack did not converge within {timeout:g} s: {progress_line(seen)}\n"
            f"{task_errors(client, plan)}see `invoke deploy.status` and `docker service ps"
            f" {plan.stack}_{APP_SERVICE} --no-trunc`"
        ) from None
    return list(seen)


def settle(
    plan: DeployPlan, status: ServiceStatus, started: datetime, before: Mapping[str, str]
) -> bool:
    """Whether one service is done; raises when swarm rolled back an update of this deploy.

    A rolled-back service has its old task template again, so the rollback is recognised by
    its update state and start time, not by the template.
    """
    ours = status.update_started is not None and status.update_started >= started
    if ours and status.update_state in FAILED_UPDATE:
        raise DeployError(rolled_back_message(plan, status))
    if status.name in before and before[status.name] != status.template:
        if not ours:
            return False  # swarm has not started the update yet
        if status.update_state != "completed":
            return False
    return status.converged


def app_status(plan: DeployPlan, statuses: Sequence[ServiceStatus]) -> ServiceStatus | None:
    name = f"{plan.stack}_{APP_SERVICE}"
    return next((s for s in statuses if s.name == name), None)


def rolled_back_message(plan: DeployPlan, status: ServiceStatus) -> str:
    if not status.name.endswith(f"_{APP_SERVICE}"):
        return (
            f"updating {status.short_name} failed and swarm rolled it back ({status.update_state}:"
            f" {status.update_message}); see `docker service ps {status.name} --no-trunc`"
        )
    return (
        f"release {plan.app} failed its health check and swarm rolled back by itself; the"
        f" previous release {status.image} is serving ({status.update_state}:"
        f" {status.update_message}). Fix the release, push it, and deploy again"
    )


def task_errors(client: Any, plan: DeployPlan) -> str:
    """The last error of each failed app task: usually the line that says why."""
    try:
        service = client.services.get(f"{plan.stack}_{APP_SERVICE}")
    except Exception:
        return ""
    errors = {str(t["Status"].get("Err")) for t in service.tasks() if t["Status"].get("Err")}
    return "".join(f"  task error: {error}\n" for error in sorted(errors)[:5])


def progress_line(statuses: Sequence[ServiceStatus]) -> str:
    if not statuses:
        return "creating services"
    parts = []
    for status in statuses:
        update = f" ({status.update_state})" if status.update_state == "updating" else ""
        parts.append(f"{status.short_name} {status.running}/{status.desired}{update}")
    return ", ".join(parts)


def remove_stack(stack: str, client: Any, *, timeout: float = 60) -> None:
    """Remove the stack and everything it made: services, secrets, configs, network."""
    if swarm.role(client) != "manager":
        return
    if swarm.services(client, stack) or any(swarm.stack_objects(client, stack).values()):
        swarm.run_cli(["docker", "stack", "rm", stack], {})

    def gone() -> bool:
        leftovers = swarm.stack_objects(client, stack)
        for item in [*leftovers["secret"], *leftovers["config"]]:
            _quietly(item.remove)
        return not swarm.services(client, stack) and not any(
            swarm.stack_objects(client, stack).values()
        )

    try:
        wait.until(gone, timeout=timeout, interval=1.0, what=f"stack {stack} removed")
    except wait.WaitTimeout as error:
        raise SwarmError(f"{error}; run `invoke deploy.down` again") from None
    # Task containers that had exited are swarm's to collect, later: collect them now.
    for container in client.containers.list(
        all=True, filters={"label": f"{swarm.STACK_LABEL}={stack}"}
    ):
        _quietly(functools.partial(container.remove, force=True))


def take_down(root: Path, stack: str, client: Any, *, leave: bool) -> list[str]:
    """`deploy.down`: the stack and all it made; the swarm too if we created it and `leave`.

    Returns what was done, a line each. The history forgets the releases (nothing is left to
    roll back to) and keeps only whether the swarm is ours, while that swarm still exists.
    """
    history = History.load(history_path(root, stack))
    remove_stack(stack, client)
    done = [f"stack {stack} removed"]
    history.releases, history.options = [], {}
    if leave and history.created_swarm:
        swarm.leave(client)
        history.created_swarm = False
        done.append("left the swarm `invoke deploy` had created")
    elif leave:
        done.append("the swarm was not created by `invoke deploy`: left in place")
    if history.created_swarm:
        history.save()
    else:
        shutil.rmtree(history.path.parent, ignore_errors=True)
    return done


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:
        return


def greet(plan: DeployPlan, outcome: Outcome, console: Any) -> probe.Answer:
    """After a converged deploy: the services, where to call, how, and one real answer."""
    console.print(status_table(outcome.statuses))
    if outcome.created_keys:
        console.print(client_keys.created(plan.client_keys, plan.root))
    console.print(f"[green]converged in {outcome.seconds:.1f} s[/green]: {plan.url}")
    sent, shown = client_keys.headers(plan.client_keys, plan.root)
    console.print(f"try: {probe.sample_curl(plan.url, shown)}")
    reply = probe.ask(plan.url, headers=sent)
    if reply.status != 200:
        raise DeployError(
            f"the stack converged but /generate answered {reply.status}: {reply.text}"
        )
    console.print(f"answer through the proxy: {reply.text}")
    return reply


def status_table(statuses: Sequence[ServiceStatus]) -> Any:
    """`invoke deploy.status`: one row per service, with the image each one runs."""
    from rich.table import Table

    table = Table("service", "replicas", "last update", "image")
    for status in statuses:
        colour = "green" if status.converged else "yellow"
        update = status.update_state or "-"
        if status.update_state in FAILED_UPDATE:
            update = f"[red]{status.update_state}[/red]"
        table.add_row(
            status.short_name,
            f"[{colour}]{status.running}/{status.desired}[/{colour}]",
            update,
            status.image,
        )
    return table
