"""A google-genai client pointed at the shared fake, as the service will build it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2
import pytest
from google import genai
from google.genai import types

ClientFactory = Callable[..., genai.client.AsyncClient]


def make_client(
    base_url: str, *, api_key: str = "test-key", version: str = "v1beta"
) -> genai.Client:
    # Pin httpx2: with aiohttp installed (the service's transport) the SDK would switch to it.
    transport = {"transport": httpx2.AsyncHTTPTransport()}
    options = types.HttpOptions(
        base_url=base_url, api_version=version, timeout=5_000, async_client_args=transport
    )
    return genai.Client(api_key=api_key, http_options=options)


@pytest.fixture
async def genai_factory(fake_gemini: str) -> AsyncIterator[ClientFactory]:
    """Async clients for the shared fake (or another base URL), closed after the test."""
    clients: list[genai.Client] = []

    def build(base_url: str = fake_gemini, **options: str) -> genai.client.AsyncClient:
        clients.append(make_client(base_url, **options))
        return clients[-1].aio

    yield build
    for client in clients:
        await client.aio.aclose()


@pytest.fixture
def gemini(genai_factory: ClientFactory) -> genai.client.AsyncClient:
    return genai_factory()
