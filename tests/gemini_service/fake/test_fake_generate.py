"""The fake's happy path, read through the real google-genai SDK and raw HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from google.genai import client as genai_client
from google.genai import errors, types

from gemini_service.fake.config import FakeConfig

FakeFactory = Callable[[FakeConfig], str]
ClientFactory = Callable[..., genai_client.AsyncClient]

MODEL = "gemini-2.5-flash"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}


async def test_echo_carries_usage_counted_in_words(gemini: genai_client.AsyncClient) -> None:
    response = await gemini.models.generate_content(model=MODEL, contents="the quick brown fox")

    assert response.text == "Echo: the quick brown fox"
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.candidates[0].content is not None
    assert response.candidates[0].content.role == "model"
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (4, 5)
    assert usage.total_token_count == 9
    assert response.model_version == MODEL
    assert response.response_id


async def test_max_output_tokens_truncates_with_max_tokens(
    gemini: genai_client.AsyncClient,
) -> None:
    config = types.GenerateContentConfig(max_output_tokens=3, temperature=0.2)

    response = await gemini.models.generate_content(
        model=MODEL, contents="one two three four", config=config
    )

    assert response.text == "Echo: one two"
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_token_count == 3


async def test_prompt_count_includes_system_instruction_and_history(
    gemini: genai_client.AsyncClient,
) -> None:
    contents = [
        types.Content(role="user", parts=[types.Part(text="first turn")]),
        types.Content(role="model", parts=[types.Part(text="a reply")]),
        types.Content(role="user", parts=[types.Part(text="last")]),
    ]
    config = types.GenerateContentConfig(system_instruction="be brief")

    response = await gemini.models.generate_content(model=MODEL, contents=contents, config=config)

    assert response.text == "Echo: last"
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count == 7


@pytest.mark.parametrize("version", ["v1", "v1beta"])
async def test_both_api_versions_answer(genai_factory: ClientFactory, version: str) -> None:
    gemini = genai_factory(version=version)

    response = await gemini.models.generate_content(model=MODEL, contents="versioned")

    assert response.text == "Echo: versioned"


async def test_sse_stream_arrives_in_chunks_that_add_up(gemini: genai_client.AsyncClient) -> None:
    prompt = "a b c d e f g h i j"

    chunks = [
        chunk
        async for chunk in await gemini.models.generate_content_stream(model=MODEL, contents=prompt)
    ]

    assert len(chunks) == 3
    assert "".join(chunk.text or "" for chunk in chunks) == f"Echo: {prompt}"
    finish = [chunk.candidates[0].finish_reason for chunk in chunks if chunk.candidates]
    assert finish == [None, None, types.FinishReason.STOP]
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.candidates_token_count == 11


def test_stream_without_alt_sse_is_one_json_array(fake_gemini: str) -> None:
    response = httpx.post(
        f"{fake_gemini}/v1beta/models/{MODEL}:streamGenerateContent",
        headers={"x-goog-api-key": "k"},
        json=BODY,
    )

    assert response.status_code == 200
    chunks = response.json()
    assert isinstance(chunks, list)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == (
        "Echo: hello there"
    )


def test_sse_events_use_crlf_framing(fake_gemini: str) -> None:
    response = httpx.post(
        f"{fake_gemini}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse",
        headers={"x-goog-api-key": "k"},
        json=BODY,
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [event for event in response.text.split("\r\n\r\n") if event]
    assert all(event.startswith("data: ") for event in events)
    assert json.loads(events[-1].removeprefix("data: "))["candidates"][0]["finishReason"] == "STOP"


def test_snake_case_generation_config_is_honoured(fake_gemini: str) -> None:
    body = {**BODY, "generation_config": {"max_output_tokens": 1, "temperature": 1.0}}

    response = httpx.post(
        f"{fake_gemini}/v1beta/models/{MODEL}:generateContent?key=k", json=body
    ).json()

    assert response["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert response["candidates"][0]["content"]["parts"][0]["text"] == "Echo:"


def test_missing_key_is_permission_denied(fake_gemini: str) -> None:
    # The SDK refuses to send without a key, so this one goes over raw HTTP.
    response = httpx.post(f"{fake_gemini}/v1beta/models/{MODEL}:generateContent", json=BODY)

    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert "unregistered callers" in error["message"]


async def test_wrong_key_is_api_key_invalid(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(api_key="right")), api_key="wrong")

    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="hi")

    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    reasons = [detail.get("reason") for detail in caught.value.details["error"]["details"]]
    assert "API_KEY_INVALID" in reasons


async def test_configured_key_is_accepted(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(api_key="right")), api_key="right")

    response = await gemini.models.generate_content(model=MODEL, contents="hi")

    assert response.text == "Echo: hi"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "Invalid JSON payload"),
        (b"[]", "Expected an object"),
        (b'{"contents": []}', "contents is not specified"),
        (b'{"contents": [{"parts": "x"}]}', "parts"),
        (b'{"contents": [{"parts": []}], "generationConfig": {"temperature": 3}}', "temperature"),
        (
            b'{"contents": [{"parts": []}], "generationConfig": {"maxOutputTokens": 0}}',
            "max_output",
        ),
        (b'{"contents": [{"parts": []}], "generationConfig": []}', "generation_config"),
    ],
)
def test_unreadable_request_is_invalid_argument(
    fake_gemini: str, body: bytes, fragment: str
) -> None:
    response = httpx.post(
        f"{fake_gemini}/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": "k", "content-type": "application/json"},
        content=body,
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/v2/models/m:generateContent", "/v1beta/models/m:embedContent", "/nowhere"]
)
def test_unknown_paths_are_not_found_in_google_envelope(fake_gemini: str, path: str) -> None:
    response = httpx.post(f"{fake_gemini}{path}", headers={"x-goog-api-key": "k"}, json=BODY)

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_health_needs_no_key(fake_gemini: str) -> None:
    response = httpx.get(f"{fake_gemini}/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_models_can_be_listed_and_fetched(gemini: genai_client.AsyncClient) -> None:
    names = [model.name async for model in await gemini.models.list(config={"page_size": 10})]
    model = await gemini.models.get(model=MODEL)

    assert f"models/{MODEL}" in names
    assert model.name == f"models/{MODEL}"


def test_generate_methods_are_not_models(fake_gemini: str) -> None:
    url = f"{fake_gemini}/v1beta/models/{MODEL}:generateContent"

    response = httpx.get(url, headers={"x-goog-api-key": "k"})

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_listing_models_checks_the_key(fake_gemini: str) -> None:
    assert httpx.get(f"{fake_gemini}/v1beta/models").status_code == 403
    assert httpx.get(f"{fake_gemini}/v1beta/models/{MODEL}").status_code == 403
