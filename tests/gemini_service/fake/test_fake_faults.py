"""Every fault, as the real google-genai SDK receives it over a socket."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import httpx2
import pytest
from google.genai import client as genai_client
from google.genai import errors, types

from gemini_service.fake.config import FakeConfig
from gemini_service.fake.faults import CATALOGUE, Behaviour

FakeFactory = Callable[[FakeConfig], str]
ClientFactory = Callable[..., genai_client.AsyncClient]

MODEL = "gemini-2.5-flash"

# (fault, HTTP code, google.rpc status, an @type expected among the details or None)
ERRORS = [
    ("bad_key", 400, "INVALID_ARGUMENT", "type.googleapis.com/google.rpc.ErrorInfo"),
    ("unauthenticated", 401, "UNAUTHENTICATED", "type.googleapis.com/google.rpc.ErrorInfo"),
    ("permission_denied", 403, "PERMISSION_DENIED", None),
    ("rate_limit", 429, "RESOURCE_EXHAUSTED", "type.googleapis.com/google.rpc.RetryInfo"),
    ("rate_limit_header", 429, "RESOURCE_EXHAUSTED", None),
    ("unavailable", 503, "UNAVAILABLE", None),
    ("internal", 500, "INTERNAL", None),
    ("bad_request", 400, "INVALID_ARGUMENT", None),
    ("not_found", 404, "NOT_FOUND", None),
    ("stream_error", 500, "INTERNAL", None),
]


def details_of(error: errors.APIError) -> list[dict[str, object]]:
    details: list[dict[str, object]] = error.details["error"].get("details", [])
    return details


def test_every_error_fault_is_covered_here() -> None:
    erroring = {f.name for f in CATALOGUE.values() if f.behaviour is Behaviour.ERROR}
    assert erroring <= {name for name, *_ in ERRORS}


@pytest.mark.parametrize(("fault", "code", "status", "detail_type"), ERRORS)
async def test_error_fault_arrives_as_sdk_error(
    gemini: genai_client.AsyncClient, fault: str, code: int, status: str, detail_type: str | None
) -> None:
    with pytest.raises(errors.APIError) as caught:
        await gemini.models.generate_content(model=MODEL, contents=f"hi [[fault:{fault}]]")

    assert (caught.value.code, caught.value.status) == (code, status)
    assert isinstance(caught.value, errors.ClientError if code < 500 else errors.ServerError)
    types_seen = [detail["@type"] for detail in details_of(caught.value)]
    assert (detail_type in types_seen) if detail_type else detail_type not in types_seen


async def test_bad_key_carries_api_key_invalid_reason(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:bad_key]]")

    assert caught.value.message == "API key not valid. Please pass a valid API key."
    info = details_of(caught.value)[0]
    assert (info["reason"], info["domain"]) == ("API_KEY_INVALID", "googleapis.com")


async def test_bad_request_has_no_error_info(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:bad_request]]")

    assert details_of(caught.value) == []


async def test_rate_limit_waits_in_retry_info_without_header(
    gemini: genai_client.AsyncClient,
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:rate_limit]]")

    retry = [d for d in details_of(caught.value) if str(d["@type"]).endswith("RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    assert caught.value.response is not None
    assert "retry-after" not in caught.value.response.headers


async def test_rate_limit_header_sends_retry_after(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:rate_limit_header]]")

    assert caught.value.response is not None
    assert caught.value.response.headers["retry-after"] == "3"


async def test_not_found_names_the_model_and_version(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model="gemini-x", contents="[[fault:not_found]]")

    assert caught.value.message is not None
    assert caught.value.message.startswith("models/gemini-x is not found for API version v1beta")


async def test_header_selects_a_fault(genai_factory: ClientFactory, fake_gemini: str) -> None:
    options = types.HttpOptions(headers={"x-fake-fault": "unavailable"})

    with pytest.raises(errors.ServerError) as caught:
        await genai_factory().models.generate_content(
            model=MODEL, contents="hi", config=types.GenerateContentConfig(http_options=options)
        )

    assert caught.value.code == 503


async def test_unavailable_once_fails_first_attempt_only(
    gemini: genai_client.AsyncClient, request: pytest.FixtureRequest
) -> None:
    prompt = f"{request.node.nodeid} [[fault:unavailable_once]]"

    with pytest.raises(errors.ServerError) as caught:
        await gemini.models.generate_content(model=MODEL, contents=prompt)
    retried = await gemini.models.generate_content(model=MODEL, contents=prompt)

    assert caught.value.code == 503
    assert retried.text == f"Echo: {request.node.nodeid}"


async def test_unavailable_once_is_absorbed_by_sdk_retries(
    genai_factory: ClientFactory, request: pytest.FixtureRequest
) -> None:
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01, http_status_codes=[503])
    config = types.GenerateContentConfig(http_options=types.HttpOptions(retry_options=retry))
    prompt = f"{request.node.nodeid} [[fault:unavailable_once]]"

    response = await genai_factory().models.generate_content(
        model=MODEL, contents=prompt, config=config
    )

    assert response.text == f"Echo: {request.node.nodeid}"


async def test_malformed_body_fails_to_parse(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        await gemini.models.generate_content(model=MODEL, contents="[[fault:malformed]]")


def test_malformed_is_http_200_with_non_json(fake_gemini: str) -> None:
    response = httpx.post(
        f"{fake_gemini}/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": "k", "x-fake-fault": "malformed"},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )

    assert response.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


async def test_safety_blocks_the_candidate(gemini: genai_client.AsyncClient) -> None:
    response = await gemini.models.generate_content(model=MODEL, contents="[[fault:safety]]")

    assert response.text is None
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert response.candidates[0].content is None


async def test_prompt_blocked_has_feedback_and_no_candidates(
    gemini: genai_client.AsyncClient,
) -> None:
    response = await gemini.models.generate_content(
        model=MODEL, contents="[[fault:prompt_blocked]]"
    )

    assert response.candidates is None
    assert response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.SAFETY


async def test_stream_error_sends_one_chunk_then_fails(gemini: genai_client.AsyncClient) -> None:
    received: list[str] = []
    stream = await gemini.models.generate_content_stream(
        model=MODEL, contents="a b c d e f g [[fault:stream_error]]"
    )

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk.text or "")

    with pytest.raises(errors.ServerError) as caught:
        await consume()

    assert received == ["Echo: a b c "]
    assert (caught.value.code, caught.value.status) == (500, "INTERNAL")


def test_stream_error_without_sse_ends_the_json_array_with_the_error(fake_gemini: str) -> None:
    response = httpx.post(
        f"{fake_gemini}/v1beta/models/{MODEL}:streamGenerateContent",
        headers={"x-goog-api-key": "k", "x-fake-fault": "stream_error"},
        json={"contents": [{"parts": [{"text": "a b c d e f"}]}]},
    )

    chunks = response.json()
    assert [("error" in chunk) for chunk in chunks] == [False, True]


async def test_drop_closes_without_an_answer(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
        await gemini.models.generate_content(model=MODEL, contents="[[fault:drop]]")


async def test_reset_is_a_connection_reset(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(httpx2.ReadError):
        await gemini.models.generate_content(model=MODEL, contents="[[fault:reset]]")


async def test_hang_lasts_until_the_client_times_out(
    gemini: genai_client.AsyncClient,
) -> None:
    config = types.GenerateContentConfig(http_options=types.HttpOptions(timeout=300))

    with pytest.raises(httpx2.ReadTimeout):
        await gemini.models.generate_content(model=MODEL, contents="[[fault:hang]]", config=config)


async def test_hang_ends_with_deadline_exceeded_at_the_cap(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(hang_cap_seconds=0.2)))

    with pytest.raises(errors.ServerError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:hang]]")

    assert (caught.value.code, caught.value.status) == (504, "DEADLINE_EXCEEDED")


async def test_slow_answers_after_the_configured_latency(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(latency_ms=300)))
    started = time.monotonic()

    response = await gemini.models.generate_content(model=MODEL, contents="[[fault:slow]]")

    assert time.monotonic() - started >= 0.3
    assert response.text == "Echo:"


async def test_configured_fault_applies_to_every_request(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(fault="internal")))

    for _ in range(3):
        with pytest.raises(errors.ServerError):
            await gemini.models.generate_content(model=MODEL, contents="hi")


async def test_directive_overrides_configured_fault(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(fault="internal")))

    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:rate_limit]]")

    assert caught.value.code == 429


async def test_fault_rate_draws_from_the_listed_faults(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    config = FakeConfig(fault_rate=0.5, faults=("unavailable",), seed=7)
    gemini = genai_factory(fake_gemini_factory(config))
    outcomes: list[int] = []

    for _ in range(40):
        try:
            await gemini.models.generate_content(model=MODEL, contents="hi")
            outcomes.append(200)
        except errors.ServerError as error:
            outcomes.append(error.code)

    assert set(outcomes) == {200, 503}


async def test_unknown_fault_lists_the_known_ones(gemini: genai_client.AsyncClient) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await gemini.models.generate_content(model=MODEL, contents="[[fault:nope]]")

    assert caught.value.message is not None
    assert "unknown fault 'nope'" in caught.value.message
    assert "rate_limit" in caught.value.message


async def test_slow_stream_spaces_its_chunks_but_not_a_unary_answer(
    fake_gemini_factory: FakeFactory, genai_factory: ClientFactory
) -> None:
    gemini = genai_factory(fake_gemini_factory(FakeConfig(latency_ms=200)))
    arrivals = []
    started = time.monotonic()

    stream = await gemini.models.generate_content_stream(
        model=MODEL, contents="one two three four five six seven [[fault:slow_stream]]"
    )
    async for _ in stream:
        arrivals.append(time.monotonic() - started)

    assert len(arrivals) >= 2
    assert arrivals[-1] - arrivals[0] >= 0.2 * (len(arrivals) - 1) * 0.9
    unary = await gemini.models.generate_content(model=MODEL, contents="[[fault:slow_stream]] x")
    assert unary.text == "Echo: x"
