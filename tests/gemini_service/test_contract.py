"""The error table and the success shape, over each real SDK and a real socket to the fake.

Every upstream row of the README's error table has a case here, run against both adapters.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from gemini_service.errors import ERROR_TABLE
from gemini_workflow.ports import free_port
from tests.gemini_service.service_support import ServiceFactory

# fault directive -> (status, code, Retry-After) the client must see
UPSTREAM_FAULTS = {
    "bad_key": (502, "upstream_auth_failed", None),
    "unauthenticated": (502, "upstream_auth_failed", None),
    "permission_denied": (502, "upstream_auth_failed", None),
    "rate_limit": (429, "rate_limited", "7"),
    "rate_limit_header": (429, "rate_limited", "3"),
    "unavailable": (503, "upstream_unavailable", None),
    "drop": (503, "upstream_unavailable", None),
    "reset": (503, "upstream_unavailable", None),
    "internal": (502, "upstream_error", None),
    "bad_request": (502, "upstream_error", None),
    "not_found": (502, "upstream_error", None),
    "malformed": (502, "upstream_error", None),
}
DEDICATED_TESTS = {"upstream_timeout"}  # test_timeout_answers_504_within_about_the_deadline
# Rows exercised elsewhere: validation and size limits (test_app.py), crashes (test_app.py),
# client keys (test_client_auth.py).
COVERED_ELSEWHERE = {"invalid_request", "request_too_large", "internal_error", "unauthorized"}
ROUTING_ONLY = {"not_found", "method_not_allowed"}


def generate(prompt: str, **fields: object) -> dict[str, object]:
    return {"prompt": prompt, **fields}


async def test_success_returns_text_usage_and_request_id(service: httpx.AsyncClient) -> None:
    response = await service.post("/generate", json=generate("hello there world"))

    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "Echo: hello there world"
    assert body["finish_reason"] == "STOP"
    assert body["blocked"] is False
    assert body["model"] == "gemini-2.5-flash"
    assert body["usage"] == {"prompt_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_max_output_tokens_reaches_gemini(service: httpx.AsyncClient) -> None:
    response = await service.post(
        "/generate", json=generate("one two three four five", max_output_tokens=2)
    )

    body = response.json()
    assert body["finish_reason"] == "MAX_TOKENS"
    assert body["usage"]["output_tokens"] == 2


@pytest.mark.parametrize("fault", ["safety", "prompt_blocked"])
async def test_safety_block_is_a_200_with_blocked_flag(
    service: httpx.AsyncClient, fault: str
) -> None:
    response = await service.post("/generate", json=generate(f"hi [[fault:{fault}]]"))

    assert response.status_code == 200
    body = response.json()
    assert (body["text"], body["finish_reason"], body["blocked"]) == ("", "SAFETY", True)


@pytest.mark.parametrize("fault", UPSTREAM_FAULTS)
async def test_upstream_failure_maps_to_error_table_row(
    make_service: ServiceFactory, fault: str
) -> None:
    status, code, retry_after = UPSTREAM_FAULTS[fault]
    service = await make_service(gemini_max_retries=1)

    response = await service.post("/generate", json=generate(f"hi [[fault:{fault}]]"))

    assert response.status_code == status
    assert response.json() == {
        "error": {
            "code": code,
            "message": response.json()["error"]["message"],
            "request_id": response.headers["X-Request-ID"],
        }
    }
    assert response.headers.get("Retry-After") == retry_after


async def test_wrong_configured_key_maps_to_upstream_auth_failed(
    fake_gemini_factory, make_service: ServiceFactory
) -> None:
    from gemini_service.fake.config import FakeConfig

    upstream = fake_gemini_factory(FakeConfig(api_key="the-right-key"))
    service = await make_service(gemini_api_endpoint=upstream, gemini_api_key="a-wrong-key")

    response = await service.post("/generate", json=generate("hello"))

    assert (response.status_code, response.json()["error"]["code"]) == (
        502,
        "upstream_auth_failed",
    )


async def test_timeout_answers_504_within_about_the_deadline(make_service: ServiceFactory) -> None:
    service = await make_service(gemini_timeout_seconds=1, gemini_max_retries=2)
    started = time.monotonic()

    response = await service.post("/generate", json=generate("hi [[fault:hang]]"))

    assert (response.status_code, response.json()["error"]["code"]) == (504, "upstream_timeout")
    assert time.monotonic() - started < 1.5


async def test_unreachable_upstream_maps_to_503(make_service: ServiceFactory) -> None:
    closed_port = free_port()  # bound, then released: nothing listens there
    service = await make_service(gemini_api_endpoint=f"http://127.0.0.1:{closed_port}")

    response = await service.post("/generate", json=generate("hello"))

    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "upstream_unavailable",
    )


async def test_one_503_is_retried_to_success(service: httpx.AsyncClient) -> None:
    prompt = f"{uuid.uuid4()} [[fault:unavailable_once]]"  # the fake remembers each prompt

    response = await service.post("/generate", json=generate(prompt))

    assert response.status_code == 200


async def test_no_retries_when_max_retries_is_zero(make_service: ServiceFactory) -> None:
    service = await make_service(gemini_max_retries=0)
    prompt = f"{uuid.uuid4()} [[fault:unavailable_once]]"

    response = await service.post("/generate", json=generate(prompt))

    assert response.status_code == 503


def test_every_error_table_row_has_a_test() -> None:
    tested = {code for _, code, _ in UPSTREAM_FAULTS.values()} | DEDICATED_TESTS
    tested |= COVERED_ELSEWHERE | ROUTING_ONLY
    assert tested == {spec.code for spec in ERROR_TABLE}
