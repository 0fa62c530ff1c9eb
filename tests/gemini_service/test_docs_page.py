"""/docs works offline: the page and Swagger UI's assets come from the service, no CDN."""

from __future__ import annotations

import re

from tests.gemini_service.service_support import asgi_client, build_settings
from tests.gemini_service.stub_client import StubClient


async def test_the_docs_page_loads_its_assets_from_the_service_itself() -> None:
    async with asgi_client(build_settings(), StubClient()) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources, page.text[:500]
        assert all(src.startswith("http://service/") for src in sources), sources
        for src in sources:
            asset = await client.get(src)
            assert asset.status_code == 200, src
            assert len(asset.content) > 500, src  # not an empty or error body


async def test_no_page_points_at_a_cdn_and_redoc_is_gone() -> None:
    async with asgi_client(build_settings(), StubClient()) as client:
        page = await client.get("/docs")
        assert "cdn.jsdelivr.net" not in page.text
        assert "unpkg.com" not in page.text
        assert (await client.get("/redoc")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200
