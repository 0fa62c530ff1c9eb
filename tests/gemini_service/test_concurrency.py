"""The event loop is never blocked: 200 concurrent requests against a 0.5 s upstream.

If anything blocked the loop (a sync SDK call, a per-request client) the requests would be
served in waves: a blocking call in FastAPI's 40-thread pool needs about 2.5 s here. The fake
runs in its own process so it does not compete with the app for the interpreter lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import asgi_client, build_settings, free_port, running

from gemini_service.clients.genai import GenaiClient

CONCURRENCY = 200
UPSTREAM_LATENCY_MS = 500
BOUND_SECONDS = 1.5  # required by the issue for this 2-core machine


@pytest.fixture
def slow_fake(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"FAKE_GEMINI_LATENCY_MS": str(UPSTREAM_LATENCY_MS), "LOG_LEVEL": "WARNING"}
    args = ["-m", "gemini_service.fake", "--host", "127.0.0.1", "--port", str(port)]
    with running(args, env, f"{url}/health", tmp_path):
        yield url


async def test_200_concurrent_requests_finish_within_bound(slow_fake: str) -> None:
    settings = build_settings(gemini_api_endpoint=slow_fake)
    client = GenaiClient(settings)
    try:
        async with asgi_client(settings, client) as api:
            await api.post("/generate", json={"prompt": "warm up"})
            started = time.perf_counter()
            responses = await asyncio.gather(
                *(api.post("/generate", json={"prompt": f"n{i}"}) for i in range(CONCURRENCY))
            )
            elapsed = time.perf_counter() - started
    finally:
        await client.aclose()

    assert [r.status_code for r in responses] == [200] * CONCURRENCY
    print(f"{CONCURRENCY} concurrent requests: {elapsed:.2f} s")
    assert elapsed < BOUND_SECONDS
