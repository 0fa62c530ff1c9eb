"""`invoke dev`: the stack of `invoke up`, kept in step with the source by `docker compose watch`.

The stack is planned and started exactly as `invoke up` does it (stack.plan_from_config,
stack_up.start), with compose/compose.dev.yaml as an overlay. The overlay says what is
watched and what a change does; this module runs the watch and a follower of the app's logs
as children, and owns the end: Ctrl-C (SIGINT) or SIGTERM stops both and removes the stack,
the key file and the dev image tag, so a stopped loop leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import io
import json
import posixpath
import subprocess
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from gemini_workflow import diagnosis, docker_engine, images, probe, stack_up
from gemini_workflow.compose import ComposeError, ComposeProject, UpResult
from gemini_workflow.dev_watch import StopRequest, Watch, end_process, stop_on_signals
from gemini_workflow.errors import WorkflowError
from gemini_workflow.stack import StackError, StackPlan

if TYPE_CHECKING:
    from rich.console import Console

OVERLAY: Final = Path("compose/compose.dev.yaml")
APP: Final = "gemini-app"
SOURCE: Final = Path("src/gemini_service")
"""What the overlay syncs into the running app (its first watch rule)."""
READY: Final = "watching for changes"
"""Printed once the watch runs: from then on a save is picked up (tools wait for it)."""
OWNER_CHECK_SECONDS: Final = 5.0
"""How often the loop looks for a new app container (a `rebuild` recreates it)."""
LOG_TAIL: Final = "0"
"""No earlier lines: the app's log is followed from the greeting on (its start was `up`'s)."""
DIRECTIONS: Final = {
    "sync+restart": "copied into {service} ({target}), then {service} restarts",
    "sync": "copied into {service} ({target})",
    "rebuild": "rebuilds {service}'s image, then recreates {service}",
    "restart": "restarts {service}",
}


class DevError(WorkflowError):
    """The loop left something behind; the message says what to do next."""


# ---------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class DevPlan:
    """The stack `invoke up` would start, plus the overlay and the app's dev image tag."""

    stack: StackPlan
    image: str
    """An alias of the commit's app image; compose's `rebuild` replaces this tag only."""


def dev_image(name: str, project: str) -> str:
    """A tag of the project's own: a rebuild can never move the commit's `sha-` tag."""
    return f"{name}:dev-{project}"


def plan(stack: StackPlan, request: images.BuildRequest, info: images.SourceInfo) -> DevPlan:
    """Add the overlay and what it reads: the dev image and `invoke build`'s build inputs."""
    image = dev_image(request.name, stack.project)
    args = request.build_args(info)
    variables = {"GEMINI_DEV_APP_IMAGE": image}
    for name in ("PYTHON_BASE", "PYTHON_VERSION", "WHEELHOUSE", "INDEX_OPTIONS"):
        if name in args:
            variables[f"GEMINI_DEV_{name}"] = args[name]
    if request.offline:
        variables["GEMINI_DEV_BUILD_NETWORK"] = "none"
    overlaid = dataclasses.replace(
        stack,
        overlays=(*stack.overlays, OVERLAY),
        overlay_env={**stack.overlay_env, **variables},
    )
    return DevPlan(overlaid, image)


@dataclass(frozen=True)
class WatchRule:
    """One `develop.watch` entry, as `docker compose config` resolves it."""

    service: str
    path: Path
    action: str
    target: str = ""

    def describe(self, root: Path) -> str:
        shown = self.path.relative_to(root) if self.path.is_relative_to(root) else self.path
        direction = DIRECTIONS.get(self.action, self.action + " ({service})")
        return f"{shown}: {direction.format(service=self.service, target=self.target)}"


def watch_rules(config: Mapping[str, Any]) -> list[WatchRule]:
    """Every service's watch rules from `docker compose config --format json` output."""
    return [
        WatchRule(name, Path(rule["path"]), str(rule["action"]), str(rule.get("target", "")))
        for name, service in sorted(config.get("services", {}).items())
        for rule in (service.get("develop") or {}).get("watch") or []
    ]


def source_changed(root: Path) -> bool:
    """Whether the synced source differs from the commit (and so, maybe, from the image).

    An image tagged for a clean commit was built from exactly that commit; uncommitted
    changes are what the initial sync copies in and a restart must pick up. Unknown (no git)
    counts as changed: a needless restart costs a second, a missed one serves old code.
    """
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", str(SOURCE)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return True
    return bool(status.stdout.strip())


# ----------------------------------------------------------------- deletions in the app


def source_directories(root: Path) -> list[str]:
    """The synced package's directories, relative to it ("" is the package itself)."""
    top = root / SOURCE
    found = [p for p in top.rglob("*") if p.is_dir() and "__pycache__" not in p.parts]
    return ["", *sorted(p.relative_to(top).as_posix() for p in found)]


def sync_target(rules: Sequence[WatchRule], root: Path) -> str | None:
    """Where the overlay syncs SOURCE to in the app container, as compose resolved it."""
    for rule in rules:
        if rule.service == APP and rule.path == root / SOURCE and rule.target:
            return rule.target
    return None


def container_user(value: str) -> tuple[int, int] | None:
    """`uid[:gid]` of a container's Config.User; None for root or a user given by name."""
    uid, _, gid = value.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()) or int(uid) == 0:
        return None
    return int(uid), int(gid or uid)


def owner_archive(target: str, directories: Sequence[str], uid: int, gid: int) -> bytes:
    """Directory entries only: extracted at /, they give those directories to uid:gid."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for relative in directories:
            entry = tarfile.TarInfo(posixpath.normpath(posixpath.join(target, relative)))
            entry.name = entry.name.lstrip("/")
            entry.type, entry.mode, entry.uid, entry.gid = tarfile.DIRTYPE, 0o755, uid, gid
            archive.addfile(entry)
    return buffer.getvalue()


@dataclass
class PackageOwner:
    """Gives the app's user the synced package's directories, once per app container.

    compose deletes a removed or renamed file with `rm` run as the container's user (uid
    10001), in directories the image gives to root: the `rm` fails, and compose then drops
    the whole batch, the copy of the renamed file and the restart included. Looked at every
    few seconds, because a `rebuild` recreates the container with root's directories again.
    """

    project: ComposeProject
    client: Any
    target: str
    directories: Sequence[str]
    warn: Callable[[str], None]
    every: float = OWNER_CHECK_SECONDS
    done_for: str = ""
    next_check: float = 0.0

    def check(self) -> None:
        if time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + self.every
        try:
            container = self.project.container(self.client, APP)
        except ComposeError:  # being recreated
            return
        if container.id == self.done_for or container.attrs["State"]["Status"] != "running":
            return
        self.done_for = container.id
        user = container_user(str(container.attrs["Config"].get("User") or ""))
        if user is None:
            return
        try:
            container.put_archive("/", owner_archive(self.target, self.directories, *user))
        except Exception as exc:  # the loop still works; only deletions do not reach the app
            self.warn(f"deleting a file under {SOURCE} will not reach {APP}: {exc}")


# --------------------------------------------------------------------------------- loop


def run(dev: DevPlan, client: Any, console: Console, *, timeout: int, log_lines: int = 40) -> None:
    """Start the stack, watch until SIGINT/SIGTERM, then remove everything it started.

    Returns normally when stopped by a signal (the task exits 0); raises StackError when
    the stack does not start, WatchStopped when the watch ends on its own, DevError when
    cleanup fails.
    """
    with stop_on_signals() as stop:
        docker_engine.tag_image(client, dev.stack.images.app, dev.image)
        try:
            result = _start(dev, client, console, stop, timeout=timeout, log_lines=log_lines)
            if result is not None:
                _watch(dev, result, client, console, stop)
        finally:
            console.print("stopping: removing the dev stack")
            problems = clean_up(dev, client)
            for problem in problems:
                console.print(f"[red]{problem}[/red]")
        if problems:
            raise DevError("the dev stack was not removed completely: run `invoke down`")
        console.print(f"stack {dev.stack.project} removed")


def _start(
    dev: DevPlan, client: Any, console: Console, stop: StopRequest, *, timeout: int, log_lines: int
) -> UpResult | None:
    """`invoke up`'s start; None when a stop signal came first (not a failure)."""
    with console.status("starting the dev stack") as status:
        try:
            result = stack_up.start(
                dev.stack,
                client,
                timeout=timeout,
                log_lines=log_lines,
                progress=lambda states, elapsed: status.update(
                    diagnosis.progress_line(states, elapsed, timeout)
                ),
            )
        except StackError:
            if stop.requested:  # Ctrl-C reached compose too, and it gave up waiting
                return None
            raise
    return None if stop.requested else result


def _watch(
    dev: DevPlan, result: UpResult, client: Any, console: Console, stop: StopRequest
) -> None:
    project = dev.stack.compose()
    rules = watch_rules(json.loads(project.run("config", "--format", "json").stdout))
    owner = PackageOwner(
        project,
        client,
        sync_target(rules, dev.stack.root) or "",
        source_directories(dev.stack.root),
        warn=lambda text: console.print(text, style="yellow", markup=False),
    )
    watch = Watch(project, echo=lambda line: console.print(f"watch: {line}", markup=False))
    logs: subprocess.Popen[str] | None = None
    try:
        if not watch.wait_enabled(stop):
            return
        if source_changed(dev.stack.root):
            console.print(f"{SOURCE} has uncommitted changes: restarting {APP} to serve them")
            project.run("restart", APP, timeout=120)
        if owner.target:
            owner.check()
        greet(dev.stack, result, rules, console)
        logs = project.spawn("logs", "--follow", "--tail", LOG_TAIL, APP)
        watch.serve_until(stop, tick=owner.check if owner.target else lambda: None)
    finally:
        watch.stop()
        if logs is not None:
            end_process(logs)


def greet(plan: StackPlan, result: UpResult, rules: Sequence[WatchRule], console: Console) -> None:
    """Where to send requests, one answer, what is watched, and how to stop."""
    from rich.markup import escape

    console.print(
        f"[green]dev stack healthy in {result.seconds:.1f} s[/green]: {plan.url}"
        f"  (docs: {plan.url}/docs)"
    )
    headers, shown = stack_up.request_headers(plan)
    console.print(f"try: {probe.sample_curl(plan.url, shown)}", soft_wrap=True)
    try:
        answer = probe.ask(plan.url, headers=headers)
    except probe.ProbeError as error:
        console.print(f"[yellow]no answer yet[/yellow]: {escape(str(error))}")
    else:
        # Not fatal here, unlike `invoke up`: fixing the code is what the loop is for.
        colour = "green" if answer.status == 200 else "yellow"
        console.print(
            f"answer through the proxy: [{colour}]{answer.status}[/{colour}] {escape(answer.text)}"
        )
    console.print(f"{READY} (docker compose watch):")
    for rule in rules:
        console.print(f"  {rule.describe(plan.root)}", markup=False)
    console.print(f"{APP}'s log follows. Ctrl-C stops the watch and removes the stack.")


def clean_up(dev: DevPlan, client: Any) -> list[str]:
    """Remove the stack (containers, network, key file), then the dev tag; say what failed.

    Every step is tried whatever the previous did; the tag goes last, once no container
    uses it, and takes a rebuilt image with it (it has no other tag).
    """
    steps: list[tuple[str, Callable[[], None]]] = [
        (f"the stack {dev.stack.project}", lambda: stack_up.stop(dev.stack)),
        (f"the image tag {dev.image}", lambda: docker_engine.remove_image(client, dev.image)),
    ]
    problems = []
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # cleanup goes on; the caller reports what is left
            problems.append(f"could not remove {what}: {exc}")
    return problems
