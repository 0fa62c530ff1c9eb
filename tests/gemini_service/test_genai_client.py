"""The genai adapter's lifecycle and its cheap per-call config, against the fake."""

from __future__ import annotations

import pytest

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
