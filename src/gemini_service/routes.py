"""The endpoints: /generate, /generate/stream and /health.

Each route turns the request into a `Prompt`, asks the client, and shapes the result; any
`ServiceError` raised on the way is rendered by the app's handler, never caught here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Final

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gemini_service import errors
from gemini_service.client_auth import ClientKeys
from gemini_service.clients.base import GeminiClient, Generation, Prompt, StreamEvent, TextChunk
from gemini_service.errors import InternalError, InvalidRequest, ServiceError, Unauthorized
from gemini_service.middleware import RequestInfo, request_info
from gemini_service.responses import (
    SSE_HEADERS,
    SSE_MEDIA_TYPE,
    error_body,
    openapi_errors,
    sse_event,
)
from gemini_service.schemas import (
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    StreamChunk,
    StreamDone,
    Usage,
)
from gemini_service.settings import Settings

log = logging.getLogger(__name__)

GENERATE_ERRORS: Final = openapi_errors(
    errors.INVALID_REQUEST,
    errors.REQUEST_TOO_LARGE,
    errors.UNAUTHORIZED,
    errors.UPSTREAM_AUTH_FAILED,
    errors.RATE_LIMITED,
    errors.UPSTREAM_TIMEOUT,
    errors.UPSTREAM_UNAVAILABLE,
    errors.UPSTREAM_ERROR,
    errors.INTERNAL_ERROR,
)
STREAM_DOC: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": (
            "Server-sent events: `chunk` events (data: StreamChunk) as text arrives, then one "
            "`done` event (data: StreamDone). A failure after the first event ends the stream "
            "with an `error` event (data: ErrorResponse) instead of `done`."
        ),
        # Before OpenAPI 3.2 the schema of an event stream describes one event.
        "content": {
            SSE_MEDIA_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "event": {"type": "string", "enum": ["chunk", "done", "error"]},
                        "data": {"type": "string", "description": "The event's JSON document."},
                    },
                    "required": ["event", "data"],
                }
            }
        },
    }
}


def create_router(settings: Settings, client: GeminiClient) -> APIRouter:
    """The API's routes, bound to this app's settings and its one Gemini client."""
    router = APIRouter()  # /health: no client key, probes and load balancers must reach it
    protected = APIRouter(dependencies=_client_key_check(settings))

    @protected.post("/generate", responses=GENERATE_ERRORS)
    async def generate(body: GenerateRequest, request: Request) -> GenerateResponse:
        """Generate text for a prompt and return it whole."""
        info = request_info(request)
        generation = await client.generate(_prompt(body, settings, info, client.model))
        info.upstream_status = 200
        return _response(generation, info.request_id)

    @protected.post(
        "/generate/stream",
        response_class=StreamingResponse,
        responses={**STREAM_DOC, **GENERATE_ERRORS},
    )
    async def generate_stream(body: GenerateRequest, request: Request) -> StreamingResponse:
        """Generate text for a prompt and stream it as server-sent events."""
        info = request_info(request)
        events = client.stream(_prompt(body, settings, info, client.model))
        first = await anext(events)  # failures up to here are ordinary error responses
        info.upstream_status = 200
        return StreamingResponse(
            _sse(first, events, info), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS
        )

    @router.get("/health", responses=openapi_errors(errors.INTERNAL_ERROR))
    async def health() -> HealthResponse:
        """Liveness only: answers without touching Gemini, so an outage never restarts us."""
        return HealthResponse()

    router.include_router(protected)
    return router


def _client_key_check(settings: Settings) -> list[Any]:
    """With GEMINI_CLIENT_KEYS_FILE, a dependency that lets only callers with a key through.

    Without it, none at all: no cost on the request path where the stack does not need it.
    """
    if settings.gemini_client_keys_file is None:
        return []
    keys = ClientKeys(settings.gemini_client_keys_file)
    bearer = Security(
        HTTPBearer(
            auto_error=False, description="A client key: one line of GEMINI_CLIENT_KEYS_FILE."
        )
    )

    def require_key(credentials: HTTPAuthorizationCredentials | None = bearer) -> None:
        if not keys.allows(credentials.credentials if credentials else None):
            raise Unauthorized()

    return [Depends(require_key)]


def _prompt(body: GenerateRequest, settings: Settings, info: RequestInfo, model: str) -> Prompt:
    """Apply the configured limit and defaults; record what the request log needs."""
    info.model = model
    info.prompt_chars = len(body.prompt)
    if len(body.prompt) > settings.gemini_max_prompt_chars:
        raise InvalidRequest(
            f"prompt: at most {settings.gemini_max_prompt_chars} characters are allowed, "
            f"got {len(body.prompt)}; shorten it and retry."
        )
    return Prompt(
        text=body.prompt,
        temperature=settings.gemini_temperature if body.temperature is None else body.temperature,
        max_output_tokens=body.max_output_tokens or settings.gemini_max_output_tokens,
    )


def _response(generation: Generation, request_id: str) -> GenerateResponse:
    return GenerateResponse(
        text=generation.text,
        model=generation.model,
        finish_reason=generation.finish_reason,
        usage=_usage(generation),
        blocked=generation.blocked,
        request_id=request_id,
    )


def _usage(generation: Generation) -> Usage:
    usage = generation.usage
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


async def _sse(
    first: StreamEvent, events: AsyncGenerator[StreamEvent, None], info: RequestInfo
) -> AsyncIterator[bytes]:
    """Encode the stream; once headers are sent, an error can only be the final event."""
    async with aclosing(events):  # a client that disconnects also closes the upstream stream
        try:
            yield _encode(first, info.request_id)
            async for event in events:
                yield _encode(event, info.request_id)
        except ServiceError as error:
            info.upstream_status = error.upstream_status
            yield sse_event("error", error_body(error, info.request_id))
        except Exception:
            log.exception("stream failed", extra={"fields": {"request_id": info.request_id}})
            yield sse_event("error", error_body(InternalError(), info.request_id))


def _encode(event: StreamEvent, request_id: str) -> bytes:
    if isinstance(event, TextChunk):
        return sse_event("chunk", StreamChunk(text=event.text))
    done = StreamDone(
        model=event.model,
        finish_reason=event.finish_reason,
        usage=_usage(event),
        blocked=event.blocked,
        request_id=request_id,
    )
    return sse_event("done", done)
