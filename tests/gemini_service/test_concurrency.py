"""The event loop is never blocked: 200 concurrent requests against a 0.5 s upstream.

If anything blocked the loop (a sync SDK call, a per-request client) the requests would be
served in waves: a blocking call in FastAPI's 40-thread pool needs about 2.5 s here.

The service, the fake and the load generator (load_burst.py, plain asyncio sockets) each run
as their own process, untraced by coverage, so none competes with another inside one
interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemini_workflow.ports import free_port
from tests.gemini_service.service_support import running

CONCURRENCY = 200
UPSTREAM_LATENCY_MS = 500
BOUND_SECONDS = 1.5  # required by the issue for this 2-core machine
LOAD_BURST = Path(__file__).with_name("load_burst.py")


@pytest.fixture(autouse=True)
def _untraced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound is about the service, not coverage: the processes it times run untraced
    (coverage's `patch = subprocess` starts tracing in children through this variable)."""
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)


@pytest.fixture
def service_url(tmp_path: Path) -> Iterator[str]:
    """The service, on the default (genai) client, in front of a fake that takes 0.5 s."""
    fake_port, port = free_port(), free_port()
    fake_url, url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{port}"
    fake_args = ["-m", "gemini_service.fake", "--host", "127.0.0.1", "--port", str(fake_port)]
    fake_env = {"FAKE_GEMINI_LATENCY_MS": str(UPSTREAM_LATENCY_MS), "LOG_LEVEL": "WARNING"}
    env = {"GEMINI_API_KEY": "k", "GEMINI_API_ENDPOINT": fake_url, "PORT": str(port)}
    with (
        running(fake_args, fake_env, f"{fake_url}/health", tmp_path),
        running(["-m", "gemini_service"], env, f"{url}/health", tmp_path),
    ):
        yield url


def test_200_concurrent_requests_finish_within_bound(service_url: str) -> None:
    port = service_url.rsplit(":", 1)[1]

    result = subprocess.run(
        [sys.executable, str(LOAD_BURST), port, str(CONCURRENCY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    measured = json.loads(result.stdout)
    assert measured["statuses"] == [200] * CONCURRENCY
    print(
        f"{CONCURRENCY} concurrent requests against a 0.5 s upstream: {measured['seconds']:.2f} s"
    )
    assert measured["seconds"] < BOUND_SECONDS
