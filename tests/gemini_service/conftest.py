"""Fixtures for the service's tests: the app over each real SDK, against the fake.

The app is driven in-process through httpx's ASGI transport, while the app's SDK talks to the
fake Gemini over a real loopback socket, so every byte between SDK and upstream is real.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from gemini_service.clients import create_client
from tests.gemini_service.service_support import ServiceFactory, asgi_client, build_settings

LEGACY_MISSING = importlib.util.find_spec("google.generativeai") is None
# The legacy SDK is an optional extra: without it (plain `pytest` in the Quickstart's .venv)
# its half of each contract test is skipped with the reason; nox installs it, so CI runs all.
SDKS = (
    "genai",
    pytest.param(
        "legacy",
        marks=pytest.mark.skipif(
            LEGACY_MISSING, reason="the legacy extra is not installed: uv sync --extra legacy"
        ),
    ),
    "rest",
)


@pytest.fixture(autouse=True)
def _no_gemini_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's exported GEMINI_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("GEMINI_"):
            monkeypatch.delenv(name)


@pytest.fixture(params=SDKS)
def sdk(request: pytest.FixtureRequest) -> str:
    """Run the test once per adapter: the contract is the same for every one."""
    return str(request.param)


@pytest.fixture
async def make_service(fake_gemini: str, sdk: str) -> AsyncIterator[ServiceFactory]:
    """Build the app on the real SDK against the fake; returns an HTTP client for it."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> httpx.AsyncClient:
            values = {"gemini_api_endpoint": fake_gemini, "gemini_sdk": sdk, **overrides}
            settings = build_settings(**values)
            client = create_client(settings)
            stack.push_async_callback(client.aclose)
            return await stack.enter_async_context(asgi_client(settings, client))

        yield build


@pytest.fixture
async def service(make_service: ServiceFactory) -> httpx.AsyncClient:
    return await make_service()
