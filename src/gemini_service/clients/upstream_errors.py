"""Google's error envelope -> domain errors, shared by every adapter.

Both SDKs hand us the same raw facts (HTTP status, the `{"error": {...}}` body, headers), so
the rules that read them are written once here rather than once per SDK.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gemini_service.errors import (
    DEFAULT_RETRY_AFTER_SECONDS,
    RateLimited,
    ServiceError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamUnavailable,
    parse_retry_delay,
)

AUTH_STATUSES = frozenset({401, 403})
KEY_REJECTED_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})


def error_for_status(status: int, body: Any, retry_after: str | None = None) -> ServiceError:
    """Map one upstream HTTP error onto the error table.

    A wrong key is a 400 (not a 401) whose ErrorInfo reason says API_KEY_INVALID, so the
    details must be read; everything not recognised is an `UpstreamError`.
    """
    if status in AUTH_STATUSES or (status == 400 and _has_reason(body, KEY_REJECTED_REASONS)):
        return UpstreamAuthFailed(upstream_status=status)
    if status == 429:
        seconds = parse_retry_delay(retry_after) or _retry_info_delay(body)
        return RateLimited(seconds or DEFAULT_RETRY_AFTER_SECONDS, upstream_status=status)
    if status == 503:
        return UpstreamUnavailable(upstream_status=status)
    return UpstreamError(upstream_status=status)


def _details(body: Any) -> Iterator[Mapping[str, Any]]:
    """The `details` list of Google's envelope, tolerating the bare and list-wrapped forms."""
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, Mapping):
        return
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, Mapping) else None
    if isinstance(details, list):
        yield from (d for d in details if isinstance(d, Mapping))


def _has_reason(body: Any, reasons: frozenset[str]) -> bool:
    return any(
        str(d.get("@type", "")).endswith("ErrorInfo") and d.get("reason") in reasons
        for d in _details(body)
    )


def _retry_info_delay(body: Any) -> int | None:
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("RetryInfo"):
            return parse_retry_delay(str(detail.get("retryDelay", "")))
    return None
