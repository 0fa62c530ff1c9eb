"""Fixtures for every test package: the fake Gemini served over a real loopback socket.

Tests talk to it with the real SDKs, so the bytes on the wire are the ones production sees.
The server runs in a daemon thread with its own event loop, on a port the OS picks.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
import uvicorn

from gemini_service.fake.config import FakeConfig
from gemini_service.fake.server import create_app

FakeFactory = Callable[[FakeConfig], str]
"""Start a fake with the given config; returns its base URL. Stopped when the test ends."""

_STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve_fake(config: FakeConfig) -> Iterator[str]:
    """Run the fake on 127.0.0.1 at a free port; yields ``http://127.0.0.1:PORT``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = uvicorn.Config(
        create_app(config), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(settings)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name=f"fake-gemini-{port}", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT_SECONDS)
        listener.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake Gemini did not start; see the uvicorn log above")
        time.sleep(0.01)


@pytest.fixture(scope="session")
def fake_gemini() -> Iterator[str]:
    """A fake with the default config (any non-empty key, no faults), shared by the session.

    Being shared, it remembers ``unavailable_once`` attempts: give such tests a unique prompt.
    """
    with serve_fake(FakeConfig()) as base_url:
        yield base_url


@pytest.fixture
def fake_gemini_factory() -> Iterator[FakeFactory]:
    """Start fakes with custom configs (a fixed key, latency, a fault for every request)."""
    with ExitStack() as stack:
        yield lambda config: stack.enter_context(serve_fake(config))
