"""The error contract: every failure the service reports, as status, code and headers.

This module is the only place the error table exists. The HTTP handlers, the OpenAPI
responses and the README table are all derived from `ERROR_TABLE`, and a unit test checks the
README against it, so the documentation cannot drift from what the service does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the error table: what caused it, what the client sees, and what to do."""

    code: str
    status: int
    cause: str
    message: str
    headers: tuple[str, ...] = ()
    """Names of the response headers this error carries, for the OpenAPI docs."""


INVALID_REQUEST: Final = ErrorSpec(
    "invalid_request",
    422,
    "malformed JSON, wrong types, out-of-range values, unknown fields",
    "The request body is invalid; fix it and retry.",
)
REQUEST_TOO_LARGE: Final = ErrorSpec(
    "request_too_large",
    413,
    "body larger than `GEMINI_MAX_BODY_BYTES` (default 1 MiB)",
    "The request body is too large; send a shorter prompt.",
)
UNAUTHORIZED: Final = ErrorSpec(
    "unauthorized",
    401,
    "`GEMINI_CLIENT_KEYS_FILE` is set and the request has no `Authorization: Bearer <key>`, or"
    " a key not in that file",
    "This endpoint needs a client key: send Authorization: Bearer <key>.",
    headers=("WWW-Authenticate",),
)
UPSTREAM_AUTH_FAILED: Final = ErrorSpec(
    "upstream_auth_failed",
    502,
    "upstream rejects the key or permission: 400 whose details carry `API_KEY_INVALID`, 401, 403",
    "Gemini rejected the service's API key; the operator must check GEMINI_API_KEY.",
)
RATE_LIMITED: Final = ErrorSpec(
    "rate_limited",
    429,
    "upstream 429; `Retry-After` (seconds) comes from the upstream header or its RetryInfo "
    "`retryDelay`",
    "Gemini's quota is exhausted; retry after the number of seconds in Retry-After.",
    headers=("Retry-After",),
)
UPSTREAM_TIMEOUT: Final = ErrorSpec(
    "upstream_timeout",
    504,
    "no upstream answer within `GEMINI_TIMEOUT_SECONDS` (retries included)",
    "Gemini did not answer in time; retry later or send a shorter prompt.",
)
UPSTREAM_UNAVAILABLE: Final = ErrorSpec(
    "upstream_unavailable",
    503,
    "upstream unreachable (refused, reset, DNS) or 503 after `GEMINI_MAX_RETRIES` retries",
    "Gemini is unreachable or overloaded; retry later.",
)
UPSTREAM_ERROR: Final = ErrorSpec(
    "upstream_error",
    502,
    "upstream 500, other 4xx, non-JSON or malformed answer",
    "Gemini returned an error or an answer the service could not read; retry later.",
)
NOT_FOUND: Final = ErrorSpec(
    "not_found",
    404,
    "no such path",
    "No such endpoint; see /docs for the API.",
)
METHOD_NOT_ALLOWED: Final = ErrorSpec(
    "method_not_allowed",
    405,
    "the path exists but not for this HTTP method",
    "This endpoint does not accept that HTTP method; see /docs for the API.",
)
INTERNAL_ERROR: Final = ErrorSpec(
    "internal_error",
    500,
    "an unexpected exception in the service (logged with its request id)",
    "The service failed unexpectedly; retry, and report the request id if it persists.",
)

ERROR_TABLE: Final[tuple[ErrorSpec, ...]] = (
    INVALID_REQUEST,
    REQUEST_TOO_LARGE,
    UNAUTHORIZED,
    UPSTREAM_AUTH_FAILED,
    RATE_LIMITED,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNAVAILABLE,
    UPSTREAM_ERROR,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    INTERNAL_ERROR,
)

ROUTING_ERRORS: Final = frozenset({NOT_FOUND, METHOD_NOT_ALLOWED})
"""Raised by routing for any path, so documented once rather than on every operation."""


class ServiceError(Exception):
    """A failure the client is told about: the only exception type that crosses layers.

    Clients raise these instead of SDK exceptions, so the HTTP layer never needs to know which
    SDK is in use. `upstream_status` is kept for the request log, never shown to the client.
    """

    spec: ClassVar[ErrorSpec] = INTERNAL_ERROR

    def __init__(self, message: str | None = None, *, upstream_status: int | None = None) -> None:
        self.message = message or self.spec.message
        self.upstream_status = upstream_status
        super().__init__(self.message)

    @property
    def status(self) -> int:
        """The HTTP status the client receives."""
        return self.spec.status

    @property
    def code(self) -> str:
        """The stable, machine-readable error code."""
        return self.spec.code

    def headers(self) -> dict[str, str]:
        """Extra response headers this error carries (none, unless a subclass says so)."""
        return {}


class InvalidRequest(ServiceError):
    spec = INVALID_REQUEST


class RequestTooLarge(ServiceError):
    spec = REQUEST_TOO_LARGE


class Unauthorized(ServiceError):
    """The caller sent no client key, or one not (or no longer) in the key file."""

    spec = UNAUTHORIZED

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="gemini-service"'}


class UpstreamAuthFailed(ServiceError):
    spec = UPSTREAM_AUTH_FAILED


class RateLimited(ServiceError):
    """Carries how long to wait, because clients that honour Retry-After stop hammering quota."""

    spec = RATE_LIMITED

    def __init__(
        self,
        retry_after_seconds: int,
        message: str | None = None,
        *,
        upstream_status: int | None = 429,
    ) -> None:
        super().__init__(message, upstream_status=upstream_status)
        self.retry_after_seconds = max(1, retry_after_seconds)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class UpstreamTimeout(ServiceError):
    spec = UPSTREAM_TIMEOUT


class UpstreamUnavailable(ServiceError):
    """Also the retry signal: clients retry exactly the failures they map to this error."""

    spec = UPSTREAM_UNAVAILABLE


class UpstreamError(ServiceError):
    spec = UPSTREAM_ERROR


class NotFound(ServiceError):
    spec = NOT_FOUND


class MethodNotAllowed(ServiceError):
    spec = METHOD_NOT_ALLOWED


class InternalError(ServiceError):
    spec = INTERNAL_ERROR


DEFAULT_RETRY_AFTER_SECONDS: Final = 10


def error_for_http_status(status: int) -> ServiceError:
    """Map a framework-raised HTTP status (routing, body parsing) onto the table."""
    if status == NOT_FOUND.status:
        return NotFound()
    if status == METHOD_NOT_ALLOWED.status:
        return MethodNotAllowed()
    if status == REQUEST_TOO_LARGE.status:
        return RequestTooLarge()
    if 400 <= status < 500:
        return InvalidRequest()
    return InternalError()


def parse_retry_delay(value: str | None) -> int | None:
    """Whole seconds (rounded up) from a Retry-After header or a protobuf Duration like "7s".

    Rounding up keeps a client that waits exactly Retry-After from arriving too early.
    Returns None for anything unparseable (including HTTP-date Retry-After values), so the
    caller can fall back to the next source.
    """
    if not value:
        return None
    text = value.strip().removesuffix("s")
    try:
        seconds = float(text)
    except ValueError:
        return None
    if seconds != seconds or seconds < 0 or seconds > 86_400:  # NaN, negative, absurd
        return None
    whole = int(seconds)
    return whole if whole == seconds else whole + 1


def markdown_table() -> str:
    """The README's error table, rendered from ERROR_TABLE."""
    rows = ["| cause | status | code |", "|---|---|---|"]
    rows += [f"| {s.cause} | {s.status} | `{s.code}` |" for s in ERROR_TABLE]
    return "\n".join(rows)
