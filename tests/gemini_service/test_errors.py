"""The error table's helpers: Retry-After parsing, status mapping, upstream envelopes."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_service.clients.upstream_errors import error_for_status
from gemini_service.errors import (
    ERROR_TABLE,
    RateLimited,
    ServiceError,
    error_for_http_status,
    parse_retry_delay,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7s", 7), ("3", 3), ("0.2s", 1), ("1.5", 2), (" 10 ", 10), ("0s", 0)],
)
def test_retry_delay_is_parsed_and_rounded_up(value: str, seconds: int) -> None:
    assert parse_retry_delay(value) == seconds


@pytest.mark.parametrize(
    "value", [None, "", "soon", "Wed, 21 Oct 2026 07:28:00 GMT", "-1", "nan", "999999"]
)
def test_unusable_retry_delay_is_none(value: str | None) -> None:
    assert parse_retry_delay(value) is None


def test_retry_after_header_is_at_least_one_second() -> None:
    assert RateLimited(0).headers() == {"Retry-After": "1"}


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, "not_found"), (405, "method_not_allowed"), (413, "request_too_large"),
     (400, "invalid_request"), (415, "invalid_request"), (500, "internal_error")],
)  # fmt: skip
def test_framework_statuses_map_onto_the_table(status: int, code: str) -> None:
    assert error_for_http_status(status).code == code


def envelope(status: int, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": status, "status": "X", "details": list(details)}}


KEY_INVALID = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "42s"}


@pytest.mark.parametrize(
    ("status", "body", "header", "code", "retry_after"),
    [
        (400, envelope(400, KEY_INVALID), None, "upstream_auth_failed", None),
        (400, [envelope(400, KEY_INVALID)], None, "upstream_auth_failed", None),
        (400, envelope(400), None, "upstream_error", None),
        (401, {}, None, "upstream_auth_failed", None),
        (403, "not json", None, "upstream_auth_failed", None),
        (429, envelope(429, RETRY_INFO), None, "rate_limited", "42"),
        (429, envelope(429, RETRY_INFO), "5", "rate_limited", "5"),
        (429, envelope(429), None, "rate_limited", "10"),
        (503, envelope(503), None, "upstream_unavailable", None),
        (500, envelope(500), None, "upstream_error", None),
        (404, None, None, "upstream_error", None),
    ],
)
def test_upstream_envelope_maps_onto_the_table(
    status: int, body: Any, header: str | None, code: str, retry_after: str | None
) -> None:
    error = error_for_status(status, body, header)

    assert error.code == code
    assert error.headers().get("Retry-After") == retry_after
    assert error.upstream_status == status


def test_table_codes_are_unique_snake_case_and_statuses_are_errors() -> None:
    codes = [spec.code for spec in ERROR_TABLE]
    assert len(set(codes)) == len(codes)
    assert all(code.isidentifier() and code.islower() for code in codes)
    assert all(400 <= spec.status < 600 for spec in ERROR_TABLE)


def test_every_table_row_has_an_error_class() -> None:
    specs = {cls.spec for cls in _all_subclasses(ServiceError)}
    assert specs == set(ERROR_TABLE)


def _all_subclasses(cls: type[ServiceError]) -> list[type[ServiceError]]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_all_subclasses(child))]
