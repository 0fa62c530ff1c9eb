"""``python -m gemini_service.fake``: arguments, config errors, and stopping on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from gemini_service.fake.__main__ import main
from gemini_service.fake.faults import CATALOGUE
from gemini_workflow.ports import free_port

STOP_TIMEOUT_SECONDS = 10
STOPPED_BY_SIGTERM = -signal.SIGTERM
"""uvicorn shuts down gracefully, then re-raises the signal: the exit status says what ended it."""


@pytest.fixture
def fake_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The fake as its own process, port from $PORT, as the container runs it."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gemini_service.fake", "--host", "127.0.0.1"], env=env
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, process)
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def wait_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base_url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the fake process did not become healthy")


def test_list_faults_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-faults"]) == 0

    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(CATALOGUE)


def test_bad_configuration_exits_2_naming_the_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_GEMINI_FAULT", "nope")

    assert main([]) == 2
    assert "unknown fault 'nope'" in capsys.readouterr().err


def test_sigterm_stops_the_process_cleanly(
    fake_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, _ = fake_process

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == STOPPED_BY_SIGTERM


def test_sigterm_does_not_wait_for_a_hanging_request(
    fake_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base_url = fake_process
    hanging = threading.Thread(target=_hang, args=(base_url,), daemon=True)
    hanging.start()
    time.sleep(0.3)  # let the request reach the server

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == STOPPED_BY_SIGTERM


def _hang(base_url: str) -> None:
    with contextlib.suppress(httpx.TransportError):  # the server going away is the point
        httpx.post(
            f"{base_url}/v1beta/models/m:generateContent",
            headers={"x-goog-api-key": "k", "x-fake-fault": "hang"},
            json={"contents": [{"parts": [{"text": "hi"}]}]},
            timeout=STOP_TIMEOUT_SECONDS * 2,
        )
