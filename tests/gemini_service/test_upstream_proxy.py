"""Proxies from the environment are honoured by both adapters, as their SDKs document.

The genai adapter decides once, at startup, whether to trust the environment (a proxy
variable is set) or to skip aiohttp's per-request proxy and ~/.netrc lookups (none is).
"""

from __future__ import annotations

import pytest

from gemini_workflow.ports import free_port
from tests.gemini_service.service_support import ServiceFactory

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_requests_go_through_a_configured_proxy(
    make_service: ServiceFactory, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens: only a proxied call fails
    no_proxy_environment.setenv("HTTP_PROXY", dead_proxy)
    no_proxy_environment.setenv("HTTPS_PROXY", dead_proxy)
    service = await make_service(gemini_max_retries=0)

    response = await service.post("/generate", json={"prompt": "hello"})

    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "upstream_unavailable",
    )


async def test_requests_go_direct_without_a_proxy(
    make_service: ServiceFactory, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    service = await make_service()

    response = await service.post("/generate", json={"prompt": "hello"})

    assert response.status_code == 200
