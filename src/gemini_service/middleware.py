"""Pure ASGI middleware: request identity, the request log line, the body limit, the last 500.

Written as plain ASGI (not BaseHTTPMiddleware) so streaming responses pass through untouched
and the body limit is enforced while reading, before FastAPI parses anything.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gemini_service.errors import InternalError, RequestTooLarge
from gemini_service.logs import log_request
from gemini_service.responses import error_response

REQUEST_ID_HEADER: Final = "X-Request-ID"
# Caller-supplied ids end up in logs and headers: accept only short, inert tokens.
SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = logging.getLogger(__name__)


@dataclass
class RequestInfo:
    """Per-request facts the routes fill in and the request log reads afterwards."""

    request_id: str
    model: str | None = None
    prompt_chars: int | None = None
    upstream_status: int | None = None


def request_info(request: Request) -> RequestInfo:
    """The RequestInfo `RequestContext` attached to this request."""
    info: RequestInfo = request.state.info
    return info


class RequestContext:
    """Outermost layer: assigns the request id, logs one line, turns crashes into 500s."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(_request_id(Headers(scope=scope)))
        scope.setdefault("state", {})["info"] = info
        status: int | None = None
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = info.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"request_id": info.request_id}})
            if status is not None:  # headers are out; all we can do is drop the connection
                raise
            await error_response(InternalError(), info.request_id)(scope, receive, send_with_id)
        finally:
            _log(scope, info, status, time.perf_counter() - started)


def _log(scope: Scope, info: RequestInfo, status: int | None, seconds: float) -> None:
    log_request(
        request_id=info.request_id,
        method=scope["method"],
        path=scope["path"],
        status=status,  # None: the client went away before an answer was sent
        latency_ms=round(seconds * 1000, 1),
        model=info.model,
        upstream_status=info.upstream_status,
        prompt_chars=info.prompt_chars,
    )


def _request_id(headers: Headers) -> str:
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class BodySizeLimit:
    """Answer 413 once a body exceeds the limit, without reading (or buffering) the rest.

    The body is buffered up to the limit and replayed to the app: bounded memory, and
    chunked uploads without Content-Length are limited exactly like declared ones.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        buffered = await self._read_within_limit(scope, receive)
        if buffered is None:
            info: RequestInfo = scope["state"]["info"]
            await error_response(RequestTooLarge(), info.request_id)(scope, receive, send)
            return

        async def replay() -> Message:
            return buffered.popleft() if buffered else await receive()

        await self.app(scope, replay, send)

    async def _read_within_limit(self, scope: Scope, receive: Receive) -> deque[Message] | None:
        """The request's body messages, or None as soon as they exceed the limit."""
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return None
        messages: deque[Message] = deque()
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages
