"""The compose stack on a real engine with real nginx, driven through `invoke up/down`.

One stack (unique compose project, random free host port, test environment: the fake with
latency and random absorbed faults) serves the module; it is always torn down, even when
a test or `invoke up` itself fails. Tests that change the stack restore it before they end.
`engine` and `stack_images` (built once per session by the real build) come from conftest.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_workflow import wait
from gemini_workflow.compose import ComposeProject
from gemini_workflow.diagnosis import PROJECT_LABEL
from gemini_workflow.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
UP_TIMEOUT_SECONDS = 120

pytestmark = pytest.mark.engine


@dataclass(frozen=True)
class Stack:
    project: str
    port: int
    up_output: str
    up_seconds: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ComposeProject(self.project).run(*args, check=False)


def invoke(project: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `invoke ARGS` from the repo root, against this test's own compose project."""
    environ = {**os.environ, "INVOKE_STACK_PROJECT": project, "COLUMNS": "200"}
    for variable in ("GEMINI_API_KEY", "GEMINI_API_KEY_FILE"):
        environ.pop(variable, None)  # never the real API from a test
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=UP_TIMEOUT_SECONDS + 120,
    )


def invoke_up(
    project: str, images: dict[str, str], *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """`invoke up --no-build ARGS` on this session's images (built once by the conftest)."""
    return invoke(
        project,
        "up",
        "--no-build",
        *args,
        INVOKE_STACK_APP_IMAGE=images["app"],
        INVOKE_STACK_FAKE_IMAGE=images["fake"],
        **env,
    )


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll CHECK once a second until it holds; transport errors count as "not yet"."""
    wait.until(check, timeout=seconds, interval=1, what=what, retry_on=(httpx.TransportError,))


def proxy_log_tail(stack: Stack, engine: Any, lines: int = 15) -> str:
    """The proxy's last lines, attached to assertion messages: they say who failed."""
    logs: bytes = container(engine, stack.project, "api-proxy").logs(tail=lines)
    return logs.decode("utf-8", "replace")


def project_name() -> str:
    return f"gs-smoke-stack-{secrets.token_hex(4)}"


def leftovers(client: Any, project: str) -> tuple[list[str], list[str]]:
    """Containers and networks the project still owns."""
    containers = [c.name for c in ComposeProject(project).containers(client)]
    label = {"label": f"{PROJECT_LABEL}={project}"}
    networks = [n.name for n in client.networks.list(filters=label)]
    return containers, networks


def container(client: Any, project: str, service: str) -> Any:
    return ComposeProject(project).container(client, service)


@pytest.fixture(scope="module")
def stack(stack_images: dict[str, str], engine: Any) -> Iterator[Stack]:
    project = project_name()
    port = free_port()
    started = time.monotonic()
    try:
        result = invoke_up(
            project,
            stack_images,
            "--env",
            "test",
            "--port",
            str(port),
            "--timeout",
            str(UP_TIMEOUT_SECONDS),
        )
        elapsed = time.monotonic() - started
        assert result.returncode == 0, f"invoke up failed:\n{result.stdout}\n{result.stderr}"
        yield Stack(project, port, result.stdout + result.stderr, elapsed)
    finally:
        ComposeProject(project).down(volumes=True, timeout=5)


# ---------------------------------------------------------------------------------- up


def test_up_waits_until_every_service_is_healthy(stack: Stack, engine: Any) -> None:
    states = {
        service: container(engine, stack.project, service).attrs["State"]
        for service in ("api-proxy", "fake-gemini", "gemini-app")
    }
    assert {s: st["Health"]["Status"] for s, st in states.items()} == {
        "api-proxy": "healthy",
        "fake-gemini": "healthy",
        "gemini-app": "healthy",
    }
    assert "healthy in" in stack.up_output
    assert "answer through the proxy:" in stack.up_output
    healthy = next(line for line in stack.up_output.splitlines() if "healthy in" in line)
    print(f"\n{healthy}; `invoke up` in all (with the first answer): {stack.up_seconds:.1f} s")


def test_only_the_proxy_publishes_a_port(stack: Stack, engine: Any) -> None:
    published = {
        service: container(engine, stack.project, service).attrs["NetworkSettings"]["Ports"]
        for service in ("api-proxy", "fake-gemini", "gemini-app")
    }
    proxy_bindings = [b for b in published["api-proxy"]["8080/tcp"] if b]
    assert {(b["HostIp"], b["HostPort"]) for b in proxy_bindings} == {
        ("127.0.0.1", str(stack.port))
    }
    for service in ("fake-gemini", "gemini-app"):
        assert not any(published[service].values()), f"{service} publishes a port"


def test_services_run_hardened(stack: Stack, engine: Any) -> None:
    for service in ("api-proxy", "fake-gemini", "gemini-app"):
        host = container(engine, stack.project, service).attrs["HostConfig"]
        assert host["ReadonlyRootfs"], service
        assert host["CapDrop"] == ["ALL"], service
        assert not host["CapAdd"], service
        assert "no-new-privileges:true" in host["SecurityOpt"], service


# ------------------------------------------------------------------------ through nginx


def test_health_and_generate_answer_through_the_proxy(stack: Stack) -> None:
    health = httpx.get(f"{stack.url}/health", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    answer = httpx.post(
        f"{stack.url}/generate",
        json={"prompt": "Hello through nginx"},
        headers={"X-Request-ID": "smoke-generate-1"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"]
    assert answer.json()["request_id"] == "smoke-generate-1"
    assert answer.headers["x-request-id"] == "smoke-generate-1"


def test_rate_limit_reaches_the_client_as_429_with_retry_after(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.url}/generate", json={"prompt": "[[fault:rate_limit]] hi"}, timeout=30
    )
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"  # from the fake's RetryInfo retryDelay "7s"
    assert answer.json()["error"]["code"] == "rate_limited"


def test_stream_chunks_arrive_before_the_end(stack: Stack) -> None:
    """Unbuffered end to end: the first event reaches the client well before the last."""
    arrivals: list[tuple[float, str]] = []
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{stack.url}/generate/stream",
        json={"prompt": "[[fault:slow_stream]] " + "one two three four five " * 8},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event:"):
                arrivals.append((time.monotonic() - started, line.removeprefix("event:").strip()))
    kinds = [kind for _, kind in arrivals]
    assert kinds[0] == "chunk"
    assert kinds[-1] == "done"
    # test.env spaces the fake's chunks 150 ms apart (over a second for this prompt); a
    # buffering proxy would hand them over together, within milliseconds, at the end.
    assert len(arrivals) >= 8, arrivals
    first, last = arrivals[0][0], arrivals[-1][0]
    assert last - first > 0.6, f"events arrived together: {arrivals}"


def test_oversized_body_is_refused_by_nginx_as_json(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.url}/generate",
        content=b'{"prompt": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json", "X-Request-ID": "smoke-413"},
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"] == {
        "code": "request_too_large",
        "message": answer.json()["error"]["message"],
        "request_id": "smoke-413",
    }


def test_app_reaches_gemini_through_the_proxy_by_service_name(stack: Stack, engine: Any) -> None:
    app = container(engine, stack.project, "gemini-app")
    assert "GEMINI_API_ENDPOINT=http://api-proxy:8090" in app.attrs["Config"]["Env"]
    resolved = app.exec_run(
        ["python", "-c", "import socket; print(socket.gethostbyname('api-proxy'))"]
    )
    assert resolved.exit_code == 0, resolved.output
    proxy = container(engine, stack.project, "api-proxy")
    networks = proxy.attrs["NetworkSettings"]["Networks"]
    assert resolved.output.decode().strip() in {n["IPAddress"] for n in networks.values()}

    httpx.post(
        f"{stack.url}/generate",
        json={"prompt": "egress check"},
        headers={"X-Request-ID": "smoke-egress"},
        timeout=30,
    ).raise_for_status()
    egress = [
        json.loads(line)
        for line in proxy.logs(stdout=True, stderr=False).decode().splitlines()
        if '"server_port":"8090"' in line
    ]
    assert any(entry["uri"].startswith("/v1beta/models/") for entry in egress), egress


def app_serves(stack: Stack, engine: Any) -> bool:
    """Healthy by Docker's probe and answering a generate call through the proxy."""
    app = container(engine, stack.project, "gemini-app")
    if app.attrs["State"].get("Health", {}).get("Status") != "healthy":
        return False
    answer = httpx.post(f"{stack.url}/generate", json={"prompt": "up?"}, timeout=30)
    return answer.status_code == 200


def test_app_down_gives_a_json_502_from_nginx_not_html(stack: Stack, engine: Any) -> None:
    assert stack.compose("stop", "gemini-app").returncode == 0
    try:
        answer = httpx.get(
            f"{stack.url}/health", headers={"X-Request-ID": "smoke-app-down"}, timeout=30
        )
        assert answer.status_code == 502
        assert answer.headers["content-type"].startswith("application/json")
        error = answer.json()["error"]
        assert (error["code"], error["request_id"]) == ("app_unavailable", "smoke-app-down")
    finally:
        assert stack.compose("start", "gemini-app").returncode == 0
        wait_for(lambda: app_serves(stack, engine), 60, "gemini-app serving again")


def test_stopping_the_fake_gives_503_quickly_and_starting_it_recovers(
    stack: Stack, engine: Any
) -> None:
    app_started = container(engine, stack.project, "gemini-app").attrs["State"]["StartedAt"]
    assert stack.compose("stop", "fake-gemini").returncode == 0
    try:
        began = time.monotonic()
        answer = httpx.post(f"{stack.url}/generate", json={"prompt": "anyone there?"}, timeout=60)
        took = time.monotonic() - began
        assert answer.status_code == 503, f"{answer.text}\n{proxy_log_tail(stack, engine)}"
        assert answer.json()["error"]["code"] == "upstream_unavailable"
        assert took < 15, f"503 took {took:.1f} s"
    finally:
        assert stack.compose("start", "fake-gemini").returncode == 0

    def answers() -> bool:
        back = httpx.post(f"{stack.url}/generate", json={"prompt": "back?"}, timeout=30)
        return back.status_code == 200

    wait_for(answers, 45, "the stack answering after fake-gemini came back")
    app = container(engine, stack.project, "gemini-app").attrs
    assert app["State"]["StartedAt"] == app_started, "gemini-app was restarted"
    assert app["RestartCount"] == 0


# ------------------------------------------------------------------------ failure paths


def test_unhealthy_stack_fails_up_with_that_services_logs(
    stack_images: dict[str, str], engine: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.env"
    broken.write_text("GEMINI_TEMPERATURE=very-hot\n")
    project = project_name()
    try:
        result = invoke_up(
            project,
            stack_images,
            "--env",
            str(broken),
            "--port",
            str(free_port()),
            "--timeout",
            "40",
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "✗ gemini-app" in output
        assert "GEMINI_TEMPERATURE" in output  # the app's own log line says why
        assert "✗ api-proxy" not in output
        assert leftovers(engine, project) == ([], []), "a failed up left things behind"
    finally:
        ComposeProject(project).down(timeout=5)


def test_port_in_use_is_reported_before_anything_starts(
    stack_images: dict[str, str], engine: Any
) -> None:
    project = project_name()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = invoke_up(
            project,
            stack_images,
            "--port",
            str(port),
        )
    assert result.returncode != 0
    assert f"host port {port}" in result.stdout + result.stderr
    assert "--port" in result.stdout + result.stderr
    assert leftovers(engine, project) == ([], [])


def test_a_configured_key_reaches_the_upstream_as_a_file_not_an_env_var(
    stack_images: dict[str, str], engine: Any, tmp_path: Path
) -> None:
    """The real-key path, with fake-gemini standing in for Google and accepting only that key."""
    key = f"smoke-key-{secrets.token_hex(8)}"
    keyed = tmp_path / "keyed.env"
    keyed.write_text(f"FAKE_GEMINI_API_KEY={key}\n")
    project = project_name()
    port = free_port()
    try:
        result = invoke_up(
            project,
            stack_images,
            "--env",
            str(keyed),
            "--port",
            str(port),
            GEMINI_API_KEY=key,
            INVOKE_STACK_UPSTREAM="http://fake-gemini:8001",
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "with the key from GEMINI_API_KEY (the environment)" in output
        assert key not in output

        app = container(engine, project, "gemini-app")
        variables = app.attrs["Config"]["Env"]
        assert "GEMINI_API_KEY_FILE=/run/secrets/gemini_api_key" in variables
        assert not any(v.startswith("GEMINI_API_KEY=") for v in variables)
        mounted = app.exec_run(["cat", "/run/secrets/gemini_api_key"])
        assert mounted.output.decode().strip() == key
        answer = httpx.post(
            f"http://127.0.0.1:{port}/generate", json={"prompt": "keyed"}, timeout=30
        )
        assert answer.status_code == 200, answer.text  # the fake accepts no other key
    finally:
        down = invoke(project, "down")
    assert down.returncode == 0, down.stderr
    assert not (ROOT / ".local" / "stack" / project).exists(), "the key file outlived the stack"


def test_down_leaves_no_containers_or_networks(stack: Stack, engine: Any) -> None:
    """Last in the module: it takes the shared stack down."""
    assert leftovers(engine, stack.project)[0], "the stack should be running before down"
    result = invoke(stack.project, "down")
    assert result.returncode == 0, result.stderr
    assert leftovers(engine, stack.project) == ([], [])
    assert not (ROOT / ".local" / "stack" / stack.project).exists()
