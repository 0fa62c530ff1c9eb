"""The genai adapter's lifecycle, its cheap per-call config and its one TLS context."""

from __future__ import annotations

import ssl
from typing import Any

import certifi
import httpx2
import pytest

from gemini_service.clients import genai as genai_adapter
from gemini_service.clients.base import Prompt
from gemini_service.clients.genai import GenaiClient
from gemini_service.clients.genai_config import RequestConfig, request_config
from tests.gemini_service.service_support import build_settings


def test_request_config_answers_in_exactly_as_pydantic_does() -> None:
    config = request_config(0.5, 100)

    assert "temperature" not in config  # what the SDK asks, answered without iterating
    assert ("temperature", 0.5) in config  # pydantic's own meaning of `in` on a model
    assert ("temperature", 0.7) not in config


def test_request_config_is_built_once_per_sampling_pair() -> None:
    assert request_config(0.5, 100) is request_config(0.5, 100)
    assert request_config(0.5, 100) is not request_config(0.5, 101)


async def test_sdk_reads_our_config_and_leaves_the_shared_one_unchanged(
    fake_gemini: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the SDK stopped passing our subclass down, the saving would silently disappear."""
    probes: list[object] = []
    contains = RequestConfig.__contains__

    def counting(self: RequestConfig, item: object) -> bool:
        probes.append(item)
        return contains(self, item)

    monkeypatch.setattr(RequestConfig, "__contains__", counting)
    client = GenaiClient(build_settings(gemini_api_endpoint=fake_gemini))
    try:
        await client.start()
        generation = await client.generate(Prompt("one two three", 0.3, 2))
    finally:
        await client.aclose()

    assert generation.finish_reason == "MAX_TOKENS"  # max_output_tokens reached the fake
    assert "temperature" in probes
    assert request_config(0.3, 2) == request_config.__wrapped__(0.3, 2)  # shared, unmutated


async def test_aclose_without_start_is_harmless() -> None:
    client = GenaiClient(build_settings())

    await client.aclose()


async def test_the_sdk_builds_no_tls_context_of_its_own(
    fake_gemini: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each context loads the CA bundle again (cold start); ours serves every SDK client."""
    made: list[dict[str, object]] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs)
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    monkeypatch.setattr(httpx2, "create_ssl_context", counting)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = GenaiClient(build_settings(gemini_api_endpoint=fake_gemini))
    try:
        await client.start()
        generation = await client.generate(Prompt("still answers", 0.3, 50))
    finally:
        await client.aclose()

    assert generation.text
    assert made == [{"cafile": certifi.where(), "capath": None}]


async def test_the_tls_context_takes_the_ca_bundle_from_ssl_cert_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the SDK does: SSL_CERT_FILE (a corporate CA, say) wins over certifi's bundle."""
    made: list[dict[str, object]] = []
    monkeypatch.setattr(ssl, "create_default_context", lambda **kw: made.append(kw) or None)
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/corp/ca.pem")
    monkeypatch.setenv("SSL_CERT_DIR", "/etc/corp/certs")

    genai_adapter._verifying_context()

    assert made == [{"cafile": "/etc/corp/ca.pem", "capath": "/etc/corp/certs"}]
