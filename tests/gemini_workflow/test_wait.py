"""The one wait helper: polls until a check holds, and says what it waited for when it can't."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gemini_workflow import wait
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port


def test_until_returns_once_the_check_holds() -> None:
    answers = iter([False, 0, None, "yes"])
    assert wait.until(lambda: next(answers), timeout=5, interval=0.01) < 1


def test_transport_errors_count_as_not_yet() -> None:
    attempts = iter([ConnectionRefusedError(), True])

    def check() -> bool:
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    wait.until(check, timeout=5, interval=0.01)


def test_other_errors_stop_the_wait_at_once() -> None:
    def broken() -> bool:
        raise ValueError("bad state")

    with pytest.raises(ValueError, match="bad state"):
        wait.until(broken, timeout=30, interval=0.01)


def test_a_timeout_names_what_was_awaited_and_the_last_answer() -> None:
    with pytest.raises(wait.WaitTimeout, match=r"the answer did not happen within 0\.2 s .*False"):
        wait.until(lambda: False, timeout=0.2, interval=0.05, what="the answer")


def test_http_ok_waits_for_a_server_that_starts_late() -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    port = free_port()
    servers: list[ThreadingHTTPServer] = []

    def start() -> None:
        servers.append(ThreadingHTTPServer(("127.0.0.1", port), Handler))
        servers[0].serve_forever()

    threading.Timer(0.3, start).start()  # nothing listens for the first 0.3 s
    try:
        assert 0.25 < wait.http_ok(f"http://127.0.0.1:{port}/", timeout=5) < 5
    finally:
        wait.until(lambda: servers, timeout=5)
        servers[0].shutdown()
        servers[0].server_close()


def test_http_ok_gives_up_with_the_url_it_waited_for() -> None:
    with pytest.raises(wait.WaitTimeout, match=r"a 200 from http://127\.0\.0\.1"):
        wait.http_ok(f"http://127.0.0.1:{free_port()}/", timeout=0.3)


class FakeContainer:
    def __init__(self, *states: dict[str, Any]) -> None:
        self.name = "c1"
        self.states = list(states)
        self.attrs: dict[str, Any] = {}

    def reload(self) -> None:
        self.attrs = {"State": self.states.pop(0) if len(self.states) > 1 else self.states[0]}


def running(health: str | None) -> dict[str, Any]:
    return {"Status": "running", **({"Health": {"Status": health}} if health else {})}


def test_a_container_is_awaited_until_its_check_passes() -> None:
    container = FakeContainer(running("starting"), running("starting"), running("healthy"))
    wait.container_healthy(container, timeout=5, interval=0.01)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"Status": "exited", "ExitCode": 3}, r"c1 exited \(3\)"),
        (running("unhealthy"), "c1 is unhealthy"),
        (running(None), "c1 has no HEALTHCHECK"),
    ],
)
def test_a_container_that_cannot_become_healthy_fails_at_once(
    state: dict[str, Any], reason: str
) -> None:
    with pytest.raises(WorkflowError, match=reason):
        wait.container_healthy(FakeContainer(state), timeout=30, interval=0.01)
