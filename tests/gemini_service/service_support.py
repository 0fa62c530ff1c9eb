"""Helpers shared by the service's tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gemini_service.app import create_app
from gemini_service.clients.base import GeminiClient
from gemini_service.settings import Settings

ServiceFactory = Callable[..., Awaitable[httpx.AsyncClient]]
CANARY_KEY = "canary-key-7c1e9b52d4"


def build_settings(**overrides: Any) -> Settings:
    """Settings for tests: explicit values only, never a developer's .env file."""
    values: dict[str, Any] = {"gemini_api_key": "test-key", "gemini_timeout_seconds": 5}
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


def asgi_client(settings: Settings, client: GeminiClient) -> httpx.AsyncClient:
    app = create_app(settings, client)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent-event stream."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], fields["data"]))
    return events


@dataclass
class Served:
    """A server running in a subprocess, its output going to `log`."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def running(
    args: list[str], env: Mapping[str, str], health_url: str, cwd: Path
) -> Iterator[Served]:
    """`python ARGS` in a subprocess, healthy before the test continues, stopped after it.

    Output goes to a file, not a pipe: a chatty server must never block on a full pipe.
    """
    log = cwd / f"server-{len(list(cwd.glob('server-*.log')))}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *args], env={**os.environ, **env}, cwd=cwd, stdout=sink, stderr=sink
        )
    served = Served(process, log)
    try:
        wait_healthy(health_url, served)
        yield served
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(url: str, served: Served, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            code = served.process.returncode
            raise RuntimeError(f"{served.process.args} exited with {code}:\n{served.output()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} was not healthy within {timeout} s")
