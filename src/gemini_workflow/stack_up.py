"""Carry out a stack plan: start it, wait for health, explain a failure, leave nothing behind.

`invoke up` runs `start` with a progress display and then `greet`; the bench and the test
suites run the very same `start`, so a stack in a test fails the way it fails for a user,
with the same diagnosis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from gemini_workflow import client_keys, docker_engine, probe
from gemini_workflow.compose import ComposeProject, Progress, UpResult
from gemini_workflow.diagnosis import (
    PROJECT_LABEL,
    SERVICE_LABEL,
    compose_verdict,
    diagnose,
    explain_compose_failure,
)
from gemini_workflow.ports import port_is_free
from gemini_workflow.stack import Images, StackError, StackPlan, forget_secret, write_secret

if TYPE_CHECKING:
    from rich.console import Console

PROXY_SERVICE: Final = "api-proxy"


@dataclass(frozen=True)
class RunningStack:
    """A started stack as the bench and the test suites use it: its URLs, containers, logs."""

    plan: StackPlan
    client: Any
    up_seconds: float = 0.0

    @property
    def project(self) -> ComposeProject:
        return self.plan.compose()

    @property
    def proxy_url(self) -> str:
        return self.plan.url

    def url(self, service: str, port: int) -> str:
        """Where a published container port answers (the PUBLISH_ALL overlay publishes all)."""
        return self.project.url(service, port)

    def container(self, service: str) -> Any:
        return self.project.container(self.client, service)

    def logs(self) -> str:
        return self.project.logs()


def port_conflict(client: Any, plan: StackPlan) -> str | None:
    """Why the proxy's host port cannot be used, or None if it is free (or already ours)."""
    for container in client.containers.list(filters={"publish": str(plan.port)}):
        labels = container.labels or {}
        if labels.get(PROJECT_LABEL) == plan.project and labels.get(SERVICE_LABEL) == PROXY_SERVICE:
            return None  # our own running stack: `up` is idempotent
        owner = labels.get(PROJECT_LABEL)
        of_project = f" of compose project {owner}" if owner else ""
        return (
            f"host port {plan.port} is already published by container {container.name}"
            f"{of_project}; stop it or choose another port: invoke up --port {plan.port + 1}"
        )
    if not port_is_free(plan.bind or "0.0.0.0", plan.port):  # noqa: S104
        return (
            f"host port {plan.port} on {plan.bind} is in use by another process; "
            f"free it or choose another port: invoke up --port {plan.port + 1}"
        )
    return None


def missing_images(client: Any, names: Sequence[str]) -> list[str]:
    return [name for name in names if docker_engine.inspect_image(client, name) is None]


def build_target(images: Images, missing: Sequence[str]) -> str:
    """The `invoke build --target` that produces exactly the missing images."""
    wanted = {"app": images.app in missing, "fake": images.fake in missing}
    if all(wanted.values()):
        return "all"
    return "app" if wanted["app"] else "fake"


def start(
    plan: StackPlan,
    client: Any,
    *,
    timeout: int,
    keep_on_failure: bool = False,
    log_lines: int = 40,
    progress: Progress | None = None,
) -> UpResult:
    """Start the stack and wait for health; on failure explain it and leave nothing behind.

    Raises StackError carrying the diagnosis (which service, its last probe and log lines),
    after `down` unless keep_on_failure, so a failed start never leaves a half-started stack.
    """
    conflict = port_conflict(client, plan)
    if conflict:
        raise StackError(conflict)
    write_secret(plan)
    project = plan.compose()
    result = project.up(timeout, client, progress)
    if result.ok:
        return result
    report = diagnose(project.states(client, log_lines=log_lines), result.output)
    advice = explain_compose_failure(result.output, plan.port)
    if keep_on_failure:
        after = "containers kept for inspection; remove them with `invoke down`"
    elif _remove(plan):
        after = "the stack was removed again (keep it with --keep-on-failure)"
    else:
        after = "removing it failed too: run `invoke down`"
    headline = advice or f"the stack did not become healthy ({compose_verdict(result.output)})"
    raise StackError(f"{headline}\n{report}\n{after}")


def stop(plan: StackPlan, *, volumes: bool = False) -> None:
    """Remove the containers and network, then the key file the start wrote."""
    if not _remove(plan, volumes=volumes):
        raise StackError(f"docker compose down failed for {plan.project}: run `invoke down` again")


def _remove(plan: StackPlan, *, volumes: bool = False) -> bool:
    done = plan.compose().down(volumes=volumes)
    forget_secret(plan.root, plan.project)
    return done.returncode == 0


def request_headers(plan: StackPlan) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """With client keys (`--auth`): the header to send, and the one to show (no key in it)."""
    if plan.client_keys is None:
        return None, None
    return client_keys.headers(plan.client_keys, plan.root)


def greet(plan: StackPlan, result: UpResult, console: Console) -> probe.Answer:
    """After a healthy start: where it runs, how to call it, and one real answer."""
    console.print(
        f"[green]healthy in {result.seconds:.1f} s[/green]: {plan.url}  (docs: {plan.url}/docs)"
    )
    headers, shown = request_headers(plan)
    console.print(f"try: {probe.sample_curl(plan.url, shown)}")
    answer = probe.ask(plan.url, headers=headers)
    if answer.status != 200:
        raise StackError(
            f"the stack is up but /generate answered {answer.status}: {answer.text}\n"
            "it keeps running for inspection (`invoke logs gemini-app`); `invoke down` stops it"
        )
    console.print(f"answer through the proxy: {answer.text}")
    console.print("status: invoke ps · logs: invoke logs [-s SERVICE] [-f] · stop: invoke down")
    return answer
