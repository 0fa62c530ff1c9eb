"""The one compose harness: `invoke up`, the bench, the smoke and reliability suites use it.

A ComposeProject is the project's compose file (plus optional overlays, e.g. one publishing
every hop on loopback), a project name, and the variables compose.yaml interpolates. Compose
does the starting and the health wait (`up --wait`, which knows depends_on and health); the
docker SDK only reads the containers' state, for progress and for failure reports.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from gemini_workflow.config import ROOT
from gemini_workflow.diagnosis import PROJECT_LABEL, SERVICE_LABEL, ServiceState, state_from_attrs
from gemini_workflow.errors import WorkflowError

COMPOSE_FILE: Final = Path("compose/compose.yaml")
# Publishes gemini-app and fake-gemini on ephemeral loopback ports, so tests and the bench can
# reach each hop directly; the real stack publishes only the proxy.
PUBLISH_ALL: Final = Path("compose/compose.publish-all.yaml")

Progress = Callable[[Sequence[ServiceState], float], None]


class ComposeError(WorkflowError):
    """A compose command failed; the message carries the command and compose's own words."""


@dataclass(frozen=True)
class UpResult:
    ok: bool
    seconds: float
    output: str


@dataclass(frozen=True)
class ComposeProject:
    """One compose project: its files, its name, and the variables its files read."""

    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    overlays: Sequence[Path] = ()
    root: Path = ROOT

    def command(self, *args: str) -> list[str]:
        files = [self.root / COMPOSE_FILE, *(self.root / overlay for overlay in self.overlays)]
        return ["docker", "compose", "-p", self.name, *_each("-f", files), *args]

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one compose command; with `check`, a failure raises with compose's stderr."""
        done = subprocess.run(
            self.command(*args),
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise ComposeError(f"`docker compose {' '.join(args)}` failed:\n{tail}")
        return done

    def spawn(self, *args: str, **popen: Any) -> subprocess.Popen[str]:
        """Start a compose command that runs until stopped (`watch`, `logs --follow`).

        Text mode; `popen` takes Popen's other options (stdout, stderr). The caller owns the
        process: it must stop it (SIGINT: the docker CLI passes it on to compose) and wait.
        """
        return subprocess.Popen(self.command(*args), env=self._environment(), text=True, **popen)

    def up(self, timeout: int, client: Any = None, progress: Progress | None = None) -> UpResult:
        """`up --detach --wait`: every service healthy, or a failed result with the output.

        While compose waits, each service's state is passed to `progress` (when a docker SDK
        client is given). Output goes to a temporary file, not a pipe, so a chatty compose can
        never block on a full pipe while we poll.
        """
        args = ["up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans"]
        started = time.monotonic()
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as output:
            process = subprocess.Popen(
                self.command(*args),
                env=self._environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            deadline = started + timeout + 60  # compose's own timeout should always fire first
            while process.poll() is None:
                if time.monotonic() > deadline:
                    process.kill()
                    break
                if progress is not None and client is not None:
                    progress(self.states(client), time.monotonic() - started)
                # Not sleep(): return the moment compose does, so `seconds` is exact.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.5)
            returncode = process.wait()
            output.seek(0)
            text = output.read()
        return UpResult(ok=returncode == 0, seconds=time.monotonic() - started, output=text)

    def down(self, *, volumes: bool = False, timeout: int = 10) -> subprocess.CompletedProcess[str]:
        args = ["down", "--remove-orphans", "--timeout", str(timeout)]
        return self.run(*args, *(["--volumes"] if volumes else []), check=False)

    def url(self, service: str, port: int) -> str:
        """http://HOST:PORT where a published container port is reachable from this host."""
        address = self.run("port", service, str(port)).stdout.strip().splitlines()[-1]
        return f"http://{address}"

    def logs(self, *services: str) -> str:
        return self.run("logs", "--no-color", "--timestamps", *services).stdout

    def containers(self, client: Any) -> list[Any]:
        """Every container of the project, running or not (docker SDK objects)."""
        found: list[Any] = client.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={self.name}"}
        )
        return found

    def container(self, client: Any, service: str) -> Any:
        labels = [f"{PROJECT_LABEL}={self.name}", f"{SERVICE_LABEL}={service}"]
        found = client.containers.list(all=True, filters={"label": labels})
        if not found:
            raise ComposeError(f"project {self.name} has no container for service {service}")
        return found[0]

    def states(self, client: Any, log_lines: int = 0) -> list[ServiceState]:
        """Every container's state, sorted by service, with its last log lines if asked."""
        return sorted(
            (state_from_attrs(c.attrs, _log_tail(c, log_lines)) for c in self.containers(client)),
            key=lambda state: state.service,
        )

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}


def _each(flag: str, values: Sequence[Path]) -> list[str]:
    return [part for value in values for part in (flag, str(value))]


def _log_tail(container: Any, lines: int) -> tuple[str, ...]:
    if lines <= 0:
        return ()
    raw: bytes = container.logs(tail=lines, stdout=True, stderr=True)
    return tuple(raw.decode("utf-8", "replace").splitlines())
