"""One bench run: its id, its options, the engine, and everything it creates.

Sections get the BenchRun instead of module globals. Every image tag, container and compose
project a section creates is named after the run id through this object, so that closing the
run (it is a context manager) removes exactly those, whatever happened, and says what it
could not remove. Anything else a section starts (a host process, a registry, a swarm stack,
a network) is registered with `defer`, so the same close undoes it. Stacks are the project's
own: planned as StackPlans with the PUBLISH_ALL overlay and started by stack_up, like `invoke
up` and the test suites start theirs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from gemini_workflow import config, docker_engine, stack_up
from gemini_workflow.compose import PUBLISH_ALL
from gemini_workflow.ports import free_port
from gemini_workflow.stack import FAKE_UPSTREAM, Images, StackPlan

if TYPE_CHECKING:
    from rich.console import Console

UP_TIMEOUT: Final = 120
"""Seconds a bench stack may take to become healthy."""


@dataclass(frozen=True)
class Options:
    """How much to measure: the command line's knobs, the same for every section."""

    runs: int = 3
    load_seconds: float = 10.0
    latency_seconds: float = 4.0


class BenchRun:
    """The context of one run: sections measure through it and it cleans up after them."""

    def __init__(
        self,
        options: Options,
        console: Console,
        client: Any,
        workdir: Path,
        *,
        run_id: str = "",
        root: Path = config.ROOT,
    ) -> None:
        self.options = options
        self.console = console
        self.client = client
        self.workdir = workdir
        self.id = run_id or secrets.token_hex(3)
        self.root = root
        self.leftovers: list[str] = []
        self._tags: list[str] = []
        self._containers: list[str] = []
        self._stacks: dict[str, StackPlan] = {}
        self._deferred: list[tuple[str, Callable[[], None]]] = []

    @classmethod
    def start(cls, options: Options, console: Console) -> BenchRun:
        """A run on the local engine, with a private scratch directory."""
        client = docker_engine.connect(timeout=300)  # `docker save` of an image takes a while
        return cls(options, console, client, Path(tempfile.mkdtemp(prefix="gemini-bench-")))

    def __enter__(self) -> BenchRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ names it owns

    def tag(self, what: str) -> str:
        """An image tag of this run (the same one for the same `what`); removed on close."""
        tag = f"gemini-bench:{self.id}-{what}"
        if tag not in self._tags:
            self._tags.append(tag)
        return tag

    def container_name(self, what: str) -> str:
        """A container name of this run; the container is removed on close at the latest."""
        name = f"gemini-bench-{self.id}-{what}"
        self._containers.append(name)
        return name

    def remove_container(self, name: str) -> None:
        """Remove the named container (running or not); one that does not exist is fine."""
        for container in self.client.containers.list(all=True, filters={"name": name}):
            if container.name == name:
                container.remove(force=True)
        if name in self._containers:
            self._containers.remove(name)

    def name(self, what: str) -> str:
        """A name of this run for anything else the engine holds (a network, a stack)."""
        return f"gemini-bench-{self.id}-{what}"

    def defer(self, what: str, undo: Callable[[], None]) -> Callable[[], None]:
        """Register how to undo something a section started; returns "undo it now".

        Calling the returned function runs `undo` once and forgets it; whatever is still
        registered when the run closes is undone then, newest first (a stack before the
        registry its images came from).
        """
        entry = (what, undo)
        self._deferred.append(entry)

        def now() -> None:
            if entry in self._deferred:
                self._deferred.remove(entry)
                undo()

        return now

    # ------------------------------------------------------------------------ stacks

    def stack_plan(self, what: str, images: Images, env: Mapping[str, str]) -> StackPlan:
        """The project's stack under this run's name, every hop published on loopback.

        The env file pins the upstream to the fake (so neither a configured key nor .env can
        send bench traffic to the real API) and adds `env`; the key is the placeholder.
        """
        plan = StackPlan(
            project=f"gs-bench-{self.id}-{what}",
            root=self.root,
            env_name=what,
            env_file=self.workdir / f"{what}.env",
            upstream=FAKE_UPSTREAM,
            key=None,
            port=free_port(),
            bind="127.0.0.1",
            images=images,
            pinned=True,
            overlays=(PUBLISH_ALL,),
        )
        write_env_file(plan.env_file, env)
        self._stacks[plan.project] = plan
        return plan

    def start_stack(self, plan: StackPlan) -> stack_up.RunningStack:
        """Start (or, after a new env file, reconfigure) the stack; healthy, or StackError."""
        self._stacks[plan.project] = plan
        result = stack_up.start(plan, self.client, timeout=UP_TIMEOUT)
        return stack_up.RunningStack(plan, self.client, result.seconds)

    def restart_stack(
        self, running: stack_up.RunningStack, env: Mapping[str, str]
    ) -> stack_up.RunningStack:
        """The same stack with another environment: compose recreates what changed."""
        write_env_file(running.plan.env_file, env)
        return self.start_stack(running.plan)

    def stop_stack(self, plan: StackPlan) -> None:
        stack_up.stop(plan, volumes=True)
        self._stacks.pop(plan.project, None)

    @contextlib.contextmanager
    def stack(
        self, what: str, images: Images, env: Mapping[str, str]
    ) -> Iterator[stack_up.RunningStack]:
        """A started stack for the block; it is removed when the block ends."""
        plan = self.stack_plan(what, images, env)
        try:
            yield self.start_stack(plan)
        finally:
            self.stop_stack(plan)

    # ----------------------------------------------------------------------- cleanup

    def close(self) -> None:
        """Undo what was deferred, then remove stacks, containers, image tags, scratch dir.

        Every removal is tried; what fails is recorded in `leftovers`, for the report.
        """
        while self._deferred:
            what, undo = self._deferred.pop()
            self._try(what, undo)
        for plan in list(self._stacks.values()):
            self._try(f"compose project {plan.project}", functools.partial(self.stop_stack, plan))
        for name in list(self._containers):
            self._try(f"container {name}", functools.partial(self.remove_container, name))
        for tag in self._tags:
            self._try(
                f"image {tag}", functools.partial(docker_engine.remove_image, self.client, tag)
            )
        self._tags.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _try(self, what: str, remove: Callable[[], None]) -> None:
        try:
            remove()
        except Exception as exc:  # cleanup goes on; the report says what is left
            self.leftovers.append(f"could not remove {what}: {exc}")

    # ------------------------------------------------------------------- environment

    def environment(self) -> dict[str, Any]:
        """Where and when the figures were taken, so two bench.json files can be compared."""
        try:
            commit = subprocess.run(
                ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                check=False,
                timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            commit = ""
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": commit,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "docker": str(self.client.version().get("Version", "")),
            "loadavg_at_start": list(os.getloadavg()),
        }


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """A bench stack's env file: the fake as upstream, then `env`."""
    values = {"GEMINI_UPSTREAM": FAKE_UPSTREAM, **env}
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
