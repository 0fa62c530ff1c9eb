"""The event loop is never blocked: 200 concurrent requests against a 0.5 s upstream.

If anything blocked the loop (a sync SDK call, a per-request client) the requests would be
served in waves: a blocking call in FastAPI's 40-thread pool needs about 2.5 s here.

The service runs as `python -m gemini_service` and the fake as its own process; the load comes
from plain asyncio sockets, so the test's own CPU use does not compete with the app's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import free_port, running

CONCURRENCY = 200
UPSTREAM_LATENCY_MS = 500
BOUND_SECONDS = 1.5  # required by the issue for this 2-core machine


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


async def post_generate(port: int, prompt: str) -> int:
    """One POST /generate on its own connection; returns the HTTP status."""
    body = json.dumps({"prompt": prompt}).encode()
    head = (
        f"POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        status_line = await reader.readline()
        await reader.read()
    finally:
        writer.close()
    return int(status_line.split()[1])


async def burst(port: int) -> tuple[float, list[int]]:
    started = time.perf_counter()
    statuses = await asyncio.gather(*(post_generate(port, f"n{i}") for i in range(CONCURRENCY)))
    return time.perf_counter() - started, statuses


async def test_200_concurrent_requests_finish_within_bound(service_url: str) -> None:
    port = int(service_url.rsplit(":", 1)[1])
    assert await post_generate(port, "warm up") == 200  # import-time and first-call costs

    elapsed, statuses = await burst(port)

    assert statuses == [200] * CONCURRENCY
    print(f"{CONCURRENCY} concurrent requests against a 0.5 s upstream: {elapsed:.2f} s")
    assert elapsed < BOUND_SECONDS
