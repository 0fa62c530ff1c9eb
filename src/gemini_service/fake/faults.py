"""The fault catalogue: every failure the fake Gemini can inject, each defined once.

Error wording, status names and detail payloads follow what the real Generative Language API
sends, so code that handles the fake's errors handles Google's. Messages may name the requested
model and API version through ``{model}`` and ``{version}`` placeholders, filled per request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE = "generativelanguage.googleapis.com"
_TYPE = "type.googleapis.com/google.rpc."

# A directive in the prompt text selects a fault per request and works end to end through the
# service and the proxy, which forward the prompt untouched.
DIRECTIVE_PATTERN = r"\[\[fault:([A-Za-z0-9_]+)\]\]"
FAULT_HEADER = "x-fake-fault"


class Behaviour(enum.Enum):
    """How a fault manifests on the wire; the server has one code path per behaviour."""

    ERROR = "error"  # an HTTP error in Google's envelope
    ERROR_ONCE = "error_once"  # the error for the first attempt of a request, then success
    MALFORMED = "malformed"  # HTTP 200 whose body is not JSON
    HANG = "hang"  # no answer until the client gives up
    DROP = "drop"  # connection closed (FIN) before any byte of an answer
    RESET = "reset"  # connection aborted (RST) before any byte of an answer
    SLOW = "slow"  # a correct answer, late
    SLOW_STREAM = "slow_stream"  # a correct answer whose streamed chunks arrive apart
    SAFETY = "safety"  # HTTP 200, the candidate is blocked with finishReason SAFETY
    PROMPT_BLOCKED = "prompt_blocked"  # HTTP 200, no candidates, promptFeedback.blockReason
    STREAM_ERROR = "stream_error"  # one streamed chunk, then an error


@dataclass(frozen=True)
class ErrorReply:
    """An error as Google sends it: HTTP status, google.rpc status name, message, details."""

    http_status: int
    status: str
    message: str
    details: tuple[Mapping[str, Any], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self, model: str = "", version: str = "") -> dict[str, Any]:
        """Render the ``{"error": ...}`` envelope, filling the per-request placeholders."""
        error: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message.format(model=model, version=version),
            "status": self.status,
        }
        if self.details:
            error["details"] = [_fill(detail, model, version) for detail in self.details]
        return {"error": error}


@dataclass(frozen=True)
class Fault:
    """A named failure: what it does, what it answers, and a line for the README table."""

    name: str
    behaviour: Behaviour
    summary: str
    reply: ErrorReply | None = None

    @property
    def error(self) -> ErrorReply:
        """The error this fault answers; only error-like behaviours have one."""
        if self.reply is None:
            raise LookupError(f"fault {self.name!r} does not answer with an error")
        return self.reply


def _fill(value: Any, model: str, version: str) -> Any:
    """Fill placeholders in every string of a nested detail payload."""
    if isinstance(value, str):
        return value.format(model=model, version=version)
    if isinstance(value, Mapping):
        return {key: _fill(item, model, version) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, model, version) for item in value]
    return value


_KEY_INVALID_MESSAGE = "API key not valid. Please pass a valid API key."

API_KEY_INVALID = ErrorReply(
    400,
    "INVALID_ARGUMENT",
    _KEY_INVALID_MESSAGE,
    details=(
        {
            "@type": _TYPE + "ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": SERVICE},
        },
        {"@type": _TYPE + "LocalizedMessage", "locale": "en-US", "message": _KEY_INVALID_MESSAGE},
    ),
)
"""What Google answers for a wrong key: 400, not 401; the ErrorInfo reason is the only tell."""

API_KEY_MISSING = ErrorReply(
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
)

UNAUTHENTICATED = ErrorReply(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    details=(
        {
            "@type": _TYPE + "ErrorInfo",
            "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            "metadata": {
                "method": "google.ai.generativelanguage.{version}.GenerativeService."
                "GenerateContent",
                "service": SERVICE,
            },
        },
    ),
)

PERMISSION_DENIED = ErrorReply(403, "PERMISSION_DENIED", "The caller does not have permission")

QUOTA_EXCEEDED = ErrorReply(
    429,
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    details=(
        {
            "@type": _TYPE + "QuotaFailure",
            "violations": [
                {
                    "quotaMetric": SERVICE + "/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    "quotaDimensions": {"location": "global", "model": "{model}"},
                    "quotaValue": "10",
                }
            ],
        },
        {
            "@type": _TYPE + "Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {"@type": _TYPE + "RetryInfo", "retryDelay": "7s"},
    ),
)
"""Google's usual 429: the wait is only in RetryInfo, there is no Retry-After header."""

QUOTA_EXCEEDED_WITH_HEADER = ErrorReply(
    429,
    "RESOURCE_EXHAUSTED",
    "Resource has been exhausted (e.g. check quota).",
    headers={"Retry-After": "3"},
)
"""The older 429 shape, carried here by a Retry-After header and no RetryInfo detail."""

OVERLOADED = ErrorReply(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")

INTERNAL = ErrorReply(
    500,
    "INTERNAL",
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
)

INVALID_ARGUMENT = ErrorReply(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")

MODEL_NOT_FOUND = ErrorReply(
    404,
    "NOT_FOUND",
    "models/{model} is not found for API version {version}, or is not supported for "
    "generateContent. Call ListModels to see the list of available models and their supported "
    "methods.",
)

DEADLINE_EXCEEDED = ErrorReply(
    504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."
)
"""Sent when a ``hang`` outlives the fake's own cap, so a forgotten client is not held forever."""


def invalid_argument(message: str) -> ErrorReply:
    """A 400 for a request the fake cannot read, worded like Google's field violations."""
    return ErrorReply(400, "INVALID_ARGUMENT", message)


_FAULTS = (
    Fault(
        "bad_key",
        Behaviour.ERROR,
        "the key is rejected (ErrorInfo API_KEY_INVALID)",
        API_KEY_INVALID,
    ),
    Fault("unauthenticated", Behaviour.ERROR, "credentials are not accepted", UNAUTHENTICATED),
    Fault(
        "permission_denied", Behaviour.ERROR, "the key may not call this model", PERMISSION_DENIED
    ),
    Fault(
        "rate_limit",
        Behaviour.ERROR,
        "quota exceeded; RetryInfo retryDelay 7s, no header",
        QUOTA_EXCEEDED,
    ),
    Fault(
        "rate_limit_header",
        Behaviour.ERROR,
        "quota exceeded; Retry-After: 3 header",
        QUOTA_EXCEEDED_WITH_HEADER,
    ),
    Fault("unavailable", Behaviour.ERROR, "the model is overloaded", OVERLOADED),
    Fault(
        "unavailable_once",
        Behaviour.ERROR_ONCE,
        "503 for the first attempt of this exact request, then success",
        OVERLOADED,
    ),
    Fault("internal", Behaviour.ERROR, "server-side failure", INTERNAL),
    Fault("bad_request", Behaviour.ERROR, "invalid argument (no ErrorInfo)", INVALID_ARGUMENT),
    Fault("not_found", Behaviour.ERROR, "the model does not exist", MODEL_NOT_FOUND),
    Fault("malformed", Behaviour.MALFORMED, "HTTP 200 whose body is not JSON"),
    Fault("hang", Behaviour.HANG, "no answer until the client disconnects (capped)"),
    Fault("drop", Behaviour.DROP, "connection closed before any answer"),
    Fault("reset", Behaviour.RESET, "connection reset (TCP RST) before any answer"),
    Fault("slow", Behaviour.SLOW, "correct answer after FAKE_GEMINI_LATENCY_MS, or 2 s"),
    Fault(
        "slow_stream",
        Behaviour.SLOW_STREAM,
        "streamed chunks FAKE_GEMINI_LATENCY_MS apart, or 0.5 s (proves nothing buffers them)",
    ),
    Fault("safety", Behaviour.SAFETY, "HTTP 200, finishReason SAFETY, no text"),
    Fault(
        "prompt_blocked",
        Behaviour.PROMPT_BLOCKED,
        "HTTP 200, no candidates, promptFeedback.blockReason SAFETY",
    ),
    Fault(
        "stream_error",
        Behaviour.STREAM_ERROR,
        "streams one chunk, then a 500 INTERNAL error (unary calls: the error alone)",
        INTERNAL,
    ),
)

CATALOGUE: Mapping[str, Fault] = {fault.name: fault for fault in _FAULTS}
"""Every fault by name; the README table and the config validation are derived from it."""


def unknown_fault(name: str) -> ErrorReply:
    """A 400 that lists the valid names, so a typo in a directive is obvious from the answer."""
    known = ", ".join(CATALOGUE)
    return invalid_argument(f"fake-gemini: unknown fault {name!r}; known faults: {known}")
