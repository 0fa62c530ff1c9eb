"""How results and errors become HTTP: JSON error bodies, SSE events, and their OpenAPI docs.

Every non-2xx body is built by `error_response`, so the shape cannot differ between the
routes, the validation handler, the body-size middleware and the last-resort 500.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gemini_service.errors import ErrorSpec, ServiceError
from gemini_service.schemas import ErrorDetail, ErrorResponse

SSE_MEDIA_TYPE: Final = "text/event-stream"
SSE_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""No caching, and no buffering by a proxy (nginx honours X-Accel-Buffering)."""


def error_body(error: ServiceError, request_id: str) -> ErrorResponse:
    return ErrorResponse(
        error=ErrorDetail(code=error.code, message=error.message, request_id=request_id)
    )


def error_response(error: ServiceError, request_id: str) -> JSONResponse:
    return JSONResponse(
        error_body(error, request_id).model_dump(), error.status, headers=error.headers()
    )


def sse_event(event: str, data: BaseModel) -> bytes:
    """One server-sent event; JSON has no raw newlines, so `data` always fits on one line."""
    return f"event: {event}\ndata: {data.model_dump_json()}\n\n".encode()


def openapi_errors(*specs: ErrorSpec) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries documenting these errors, one per status, with examples."""
    by_status: defaultdict[int, list[ErrorSpec]] = defaultdict(list)
    for spec in specs:
        by_status[spec.status].append(spec)
    return {status: _openapi_response(group) for status, group in sorted(by_status.items())}


def _openapi_response(specs: list[ErrorSpec]) -> dict[str, Any]:
    examples = {
        spec.code: {
            "summary": spec.cause,
            "value": {"error": {"code": spec.code, "message": spec.message, "request_id": "…"}},
        }
        for spec in specs
    }
    response: dict[str, Any] = {
        "model": ErrorResponse,
        "description": "; ".join(f"`{spec.code}`: {spec.cause}" for spec in specs),
        "content": {"application/json": {"examples": examples}},
    }
    headers = {name for spec in specs for name in spec.headers}
    if headers:
        response["headers"] = {name: _HEADER_DOCS[name] for name in sorted(headers)}
    return response


_HEADER_DOCS: Final[dict[str, dict[str, Any]]] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "How to authenticate: a client key as a Bearer token.",
        "schema": {"type": "string", "example": 'Bearer realm="gemini-service"'},
    },
}
