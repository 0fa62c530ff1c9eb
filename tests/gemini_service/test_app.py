"""The HTTP layer with a stub client: validation, limits, request ids, error shape, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from gemini_service.app import create_app
from gemini_service.clients.base import TextChunk
from gemini_service.errors import ERROR_TABLE, ROUTING_ERRORS, RateLimited, markdown_table
from tests.gemini_service.service_support import asgi_client, build_settings, sse_events
from tests.gemini_service.stub_client import ANSWER, StubClient

JSON = {"content-type": "application/json"}


@pytest.fixture
def stub() -> StubClient:
    return StubClient()


@pytest.fixture
async def api(stub: StubClient) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(build_settings(gemini_max_prompt_chars=50), stub) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    """The one error shape, with the request id of the response's header."""
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    return dict(body["error"])


async def test_generate_returns_the_clients_answer(api: httpx.AsyncClient) -> None:
    response = await api.post("/generate", json={"prompt": "hi"})

    assert response.status_code == 200
    assert response.json() == {
        "text": ANSWER.text,
        "model": ANSWER.model,
        "finish_reason": "STOP",
        "usage": {"prompt_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        "blocked": False,
        "request_id": response.headers["X-Request-ID"],
    }


async def test_configured_defaults_fill_missing_fields(
    api: httpx.AsyncClient, stub: StubClient
) -> None:
    await api.post("/generate", json={"prompt": "hi"})
    await api.post("/generate", json={"prompt": "hi", "temperature": 0, "max_output_tokens": 7})

    defaults, overrides = stub.prompts
    settings = build_settings()
    assert (defaults.temperature, defaults.max_output_tokens) == (
        settings.gemini_temperature,
        settings.gemini_max_output_tokens,
    )
    assert (overrides.temperature, overrides.max_output_tokens) == (0, 7)


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        "{}",
        '{"prompt": 5}',
        '{"prompt": ""}',
        '{"prompt": "   \\n"}',
        '{"prompt": "hi", "temperature": 2.5}',
        '{"prompt": "hi", "temperature": -0.1}',
        '{"prompt": "hi", "temperature": "warm"}',
        '{"prompt": "hi", "max_output_tokens": 0}',
        '{"prompt": "hi", "max_output_tokens": 8193}',
        '{"prompt": "hi", "max_output_tokens": 1.5}',
        '{"prompt": "hi", "stream": true}',
    ],
)
async def test_invalid_body_is_422_invalid_request(
    api: httpx.AsyncClient, stub: StubClient, body: str
) -> None:
    for path in ("/generate", "/generate/stream"):
        response = await api.post(path, content=body, headers=JSON)

        assert_error(response, 422, "invalid_request")
    assert stub.prompts == []


async def test_validation_message_names_the_field_but_never_echoes_input(
    api: httpx.AsyncClient,
) -> None:
    body = {"prompt": "private words", "temperature": "private-value"}

    error = assert_error(await api.post("/generate", json=body), 422, "invalid_request")

    assert "temperature" in error["message"]
    assert "private" not in error["message"]


async def test_non_json_content_type_is_422_with_a_hint(api: httpx.AsyncClient) -> None:
    response = await api.post("/generate", content='{"prompt": "hi"}')

    error = assert_error(response, 422, "invalid_request")
    assert "Content-Type: application/json" in error["message"]


async def test_prompt_longer_than_the_limit_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/generate", json={"prompt": "x" * 51})

    assert "at most 50 characters" in assert_error(response, 422, "invalid_request")["message"]
    assert (await api.post("/generate", json={"prompt": "x" * 50})).status_code == 200


async def test_body_over_the_limit_is_413(stub: StubClient) -> None:
    settings = build_settings(gemini_max_body_bytes=1024)
    async with asgi_client(settings, stub) as api:
        declared = await api.post("/generate", json={"prompt": "x" * 2000})

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked upload
            yield b'{"prompt": "'
            for _ in range(20):
                yield b"x" * 100
            yield b'"}'

        chunked = await api.post("/generate", content=chunks(), headers=JSON)
        at_limit = await api.post("/generate", json={"prompt": "x" * 1000})

    assert_error(declared, 413, "request_too_large")
    assert_error(chunked, 413, "request_too_large")
    assert at_limit.status_code == 200
    assert len(stub.prompts) == 1


async def test_sane_request_id_is_echoed(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/generate", json={"prompt": "hi"}, headers={"X-Request-ID": "trace-42.a_b:c"}
    )

    assert response.headers["X-Request-ID"] == "trace-42.a_b:c"
    assert response.json()["request_id"] == "trace-42.a_b:c"


@pytest.mark.parametrize("given", [b"has space", b"x" * 129, b"<script>", "ünï".encode()])
async def test_insane_request_id_is_replaced(api: httpx.AsyncClient, given: bytes) -> None:
    response = await api.get("/health", headers={"X-Request-ID": given})

    assert response.headers["X-Request-ID"].encode() != given
    assert len(response.headers["X-Request-ID"]) == 32


async def test_generated_request_ids_are_unique(api: httpx.AsyncClient) -> None:
    ids = {(await api.get("/health")).headers["X-Request-ID"] for _ in range(20)}

    assert len(ids) == 20


async def test_unknown_path_and_method_use_the_error_shape(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/nope"), 404, "not_found")
    assert_error(await api.get("/generate"), 405, "method_not_allowed")


async def test_domain_error_maps_to_status_code_and_headers(stub: StubClient) -> None:
    stub.error = RateLimited(12)
    async with asgi_client(build_settings(), stub) as api:
        response = await api.post("/generate", json={"prompt": "hi"})

    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "12"


async def test_unexpected_exception_is_500_internal_error_and_logged(
    stub: StubClient, caplog: pytest.LogCaptureFixture
) -> None:
    stub.error = RuntimeError("boom at line 42")
    async with asgi_client(build_settings(), stub) as api:
        response = await api.post("/generate", json={"prompt": "hi"})

    error = assert_error(response, 500, "internal_error")
    assert "boom" not in response.text
    assert "Traceback" not in response.text
    crash = next(r for r in caplog.records if r.exc_info)
    assert crash.fields == {"request_id": error["request_id"]}  # type: ignore[attr-defined]


async def test_unexpected_exception_mid_stream_ends_with_error_event(stub: StubClient) -> None:
    stub.events = (TextChunk("partial"), RuntimeError("boom"))
    async with asgi_client(build_settings(), stub) as api:
        response = await api.post("/generate/stream", json={"prompt": "hi"})

    assert response.status_code == 200
    events = sse_events(response.text)
    assert [name for name, _ in events] == ["chunk", "error"]
    assert json.loads(events[1][1])["error"]["code"] == "internal_error"


async def test_health_answers_without_calling_gemini(
    api: httpx.AsyncClient, stub: StubClient
) -> None:
    response = await api.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert stub.prompts == []


async def test_openapi_documents_every_error_response(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()

    for path in ("/generate", "/generate/stream"):
        responses = spec["paths"][path]["post"]["responses"]
        for error in ERROR_TABLE:
            if error in ROUTING_ERRORS:
                continue
            documented = responses[str(error.status)]
            assert f"`{error.code}`" in documented["description"]
            schema = documented["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
        assert "Retry-After" in responses["429"]["headers"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert markdown_table() in spec["info"]["description"]
    assert (await api.get("/docs")).status_code == 200


async def test_server_lifespan_starts_and_closes_the_client_through_the_middleware(
    stub: StubClient,
) -> None:
    app = create_app(build_settings(), stub)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return incoming.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert stub.started
    assert stub.closed
