"""The REST adapter on answers the fake never sends: JSON of the wrong shape."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gemini_service.clients.base import Prompt
from gemini_service.clients.rest import RestClient
from gemini_service.errors import UpstreamError
from tests.gemini_service.service_support import build_settings

ODD_BODIES = ["[]", '{"candidates": "none"}', '{"candidates": [{"content": []}]}', '"text"']


@pytest.fixture
async def odd_upstream() -> AsyncIterator[tuple[str, list[str]]]:
    """An upstream answering 200 with each queued body in turn."""
    bodies: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=bodies.pop(0), content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), bodies
    finally:
        await server.close()


@pytest.mark.parametrize("body", ODD_BODIES)
async def test_json_of_another_shape_is_an_upstream_error(
    odd_upstream: tuple[str, list[str]], body: str
) -> None:
    url, bodies = odd_upstream
    bodies.append(body)
    client = RestClient(build_settings(gemini_api_endpoint=url, gemini_max_retries=0))
    try:
        with pytest.raises(UpstreamError):
            await client.generate(Prompt("hi", 1.0, 10))
    finally:
        await client.aclose()
