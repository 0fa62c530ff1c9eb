"""Stand-ins shared by the stack tests: a repo-shaped root, a plan, a fake engine and console."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import stack
from gemini_workflow.compose import ComposeProject
from gemini_workflow.diagnosis import PROJECT_LABEL, SERVICE_LABEL, state_from_attrs
from gemini_workflow.stack import FAKE_UPSTREAM, Images

REAL = "https://generativelanguage.googleapis.com"
IMAGES = Images(app="gemini-service:1.2.3", fake="gemini-service-fake:1.2.3", proxy="nginx:x")


def make_root(tmp_path: Path) -> Path:
    """A repo-shaped directory with the two committed environments."""
    env_dir = tmp_path / "compose" / "env"
    env_dir.mkdir(parents=True)
    (env_dir / "dev.env").write_text("LOG_LEVEL=debug\n")
    (env_dir / "test.env").write_text(
        f"GEMINI_UPSTREAM={FAKE_UPSTREAM}\nFAKE_GEMINI_LATENCY_MS=1\n"
    )
    (tmp_path / "compose" / "placeholder-api-key.txt").write_text("placeholder\n")
    return tmp_path


def plan(root: Path, env: str = "dev", environ: dict[str, str] | None = None) -> stack.StackPlan:
    return stack.plan_stack(
        root=root,
        project="gs-unit",
        env=env,
        port=18080,
        bind="127.0.0.1",
        images=IMAGES,
        real_upstream=REAL,
        environ=environ or {},
    )


def inspect_data(
    service: str,
    status: str = "running",
    health: str | None = "healthy",
    probe_output: str = "",
    exit_code: int = 0,
    restarts: int = 0,
) -> dict[str, Any]:
    """The parts of `docker inspect` the diagnosis reads."""
    state: dict[str, Any] = {"Status": status, "ExitCode": exit_code}
    ports = {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}
    if health is not None:
        state["Health"] = {"Status": health, "Log": [{"Output": "ok"}, {"Output": probe_output}]}
    return {
        "Name": f"/gs-{service}-1",
        "State": state,
        "RestartCount": restarts,
        "Config": {"Labels": {SERVICE_LABEL: service}},
        "NetworkSettings": {"Ports": ports if service == "api-proxy" else {"8000/tcp": None}},
    }


class FakeContainer:
    def __init__(self, attrs: dict[str, Any], logs: bytes = b"") -> None:
        self.attrs = attrs
        self.name = str(attrs["Name"]).lstrip("/")
        self.labels = attrs["Config"]["Labels"]
        self._logs = logs

    def logs(self, **_: Any) -> bytes:
        return self._logs


class FakeContainers:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self.containers = containers
        self.filters: list[dict[str, Any]] = []

    def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[Any]:
        self.filters.append(filters or {})
        if filters and "publish" in filters:
            return [
                c for c in self.containers if filters["publish"] in state_from_attrs(c.attrs).ports
            ]
        return self.containers


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> Any:
        from docker.errors import ImageNotFound

        if name not in self.present:
            raise ImageNotFound(name)
        return type("Image", (), {"attrs": {"Id": name}})()


class FakeClient:
    def __init__(
        self, containers: list[FakeContainer], images: frozenset[str] = frozenset()
    ) -> None:
        self.containers = FakeContainers(containers)
        self.images = FakeImages(set(images))


def proxy_container(project: str) -> FakeContainer:
    data = inspect_data("api-proxy")
    data["Config"]["Labels"][PROJECT_LABEL] = project
    return FakeContainer(data)


class FakeConsole:
    """Records what `up` tells the user; `status` is the spinner context manager."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.updates: list[str] = []

    def print(self, text: str, **_: Any) -> None:
        self.lines.append(text)

    @contextmanager
    def status(self, text: str) -> Iterator[Any]:
        outer = self

        class Status:
            def update(self, line: str) -> None:
                outer.updates.append(line)

        yield Status()


def install_fake_compose(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], list[list[str]]]:
    """Replace `docker compose` by a script printing OUTPUT and exiting with CODE (`down`, as
    after a real failed start, succeeds)."""
    calls: list[list[str]] = []

    def install(output: str, code: int) -> list[list[str]]:
        def command(self: ComposeProject, *args: str) -> list[str]:
            calls.append(list(args))
            exit_code = 0 if args[:1] == ("down",) else code
            script = f"import sys, time; time.sleep(0.6); print({output!r}); sys.exit({exit_code})"
            return [sys.executable, "-c", script]

        monkeypatch.setattr(ComposeProject, "command", command)
        return calls

    return install


@contextmanager
def answering(status: int, body: Any) -> Iterator[str]:
    """A stand-in for the proxy on a free port, answering any GET or POST with STATUS and BODY.

    BODY may be a callable, asked again for every request (a server whose answer changes).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now = body() if callable(body) else body
            payload = now if isinstance(now, bytes) else json.dumps(now).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.do_GET()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
