"""The programs the `cpu` section compares, and how each is started on the runtime venv.

The service is started as the image starts it (`python -m gemini_service`, one uvicorn
process with uvloop and httptools), its references the same way (bench/peers/). With two
workers every one is started by uvicorn's own command line instead, which needs an import
string. The fake Gemini they all call is the project's own, as a separate host process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gemini_workflow.bench import peers, procs, runtime
from gemini_workflow.bench.load import BENCH_KEY
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.ports import free_port

SERVICE_LOG_LEVEL: Final = "WARNING"
"""No request log line, as in issue 11's figures (at INFO it costs about 0.07 ms a request)."""
MODULES: Final = {"minimal": "minimal_genai:app", "raw": "raw_rest:app"}
FILES: Final = {"minimal": peers.MINIMAL, "raw": peers.RAW}


@dataclass(frozen=True)
class Target:
    """One program under test: which (`service`, `minimal`, `raw`), workers, extra settings."""

    label: str
    program: str
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)

    def argv(self, python: Path, port: int) -> list[str]:
        if self.workers > 1:
            return self._uvicorn(python, port)
        if self.program == "service":
            return [str(python), "-m", "gemini_service"]
        return [str(python), str(FILES[self.program])]

    def _uvicorn(self, python: Path, port: int) -> list[str]:
        app = MODULES.get(self.program, "service_factory:app")
        factory = ["--factory"] if self.program == "service" else []
        return [
            str(python), "-m", "uvicorn", app, *factory, "--app-dir", str(peers.DIRECTORY),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers),
            "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip

    def environment(self, fake_url: str, port: int) -> dict[str, str]:
        return {
            "GEMINI_API_KEY": BENCH_KEY,
            "GEMINI_API_ENDPOINT": fake_url,
            "PORT": str(port),
            "LOG_LEVEL": SERVICE_LOG_LEVEL,
            **self.env,
        }


SERVICE: Final = Target("service on host", "service")
REST: Final = Target("service on host, GEMINI_SDK=rest", "service", env={"GEMINI_SDK": "rest"})
MINIMAL: Final = Target("minimal peer", "minimal")
RAW: Final = Target("raw floor", "raw")
SERVICE_X2: Final = Target("service on host, 2 workers", "service", workers=2)


def start(run: BenchRun, target: Target, fake_url: str) -> procs.HostProcess:
    """Start one target on a free port against the fake at `fake_url` (not yet waited for)."""
    port = free_port()
    python = runtime.python(run)
    return procs.start(
        run,
        target.label.replace(" ", "-").replace(",", "").replace("=", "-"),
        target.argv(python, port),
        target.environment(fake_url, port),
        port,
    )


def start_all(
    run: BenchRun, targets: Sequence[Target], fake_url: str
) -> dict[str, procs.HostProcess]:
    """Every target started and answering /generate once (the upstream pool is open)."""
    started = {target.label: start(run, target, fake_url) for target in targets}
    for server in started.values():
        procs.wait_health(server, interval=0.05)
        procs.wait_generate(server, interval=0.05)
    return started


@contextlib.contextmanager
def serving(
    run: BenchRun, chosen: Sequence[Target], fake_ms: int
) -> Iterator[tuple[procs.HostProcess, dict[str, procs.HostProcess]]]:
    """A fake answering after `fake_ms` and every chosen target in front of it, all answering;
    all stopped when the block ends."""
    fake = start_fake(run, fake_ms)
    with procs.serving([fake]):
        servers = start_all(run, chosen, fake.url)
        with procs.serving(list(servers.values())):
            yield fake, servers


def start_fake(run: BenchRun, latency_ms: int) -> procs.HostProcess:
    """The project's fake Gemini on the runtime venv, answering after `latency_ms`."""
    port = free_port()
    python = runtime.python(run)
    argv = [str(python), "-m", "gemini_service.fake", "--host", "127.0.0.1", "--port", str(port)]
    env = {"FAKE_GEMINI_LATENCY_MS": str(latency_ms), "LOG_LEVEL": "warning"}
    fake = procs.start(run, f"fake-{latency_ms}ms", argv, env, port)
    procs.wait_health(fake, interval=0.05)
    return fake
