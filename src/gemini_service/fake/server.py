"""The fake Gemini's HTTP layer: routes, the key check, fault selection and delivery.

Everything is asynchronous (latency and hangs are ``asyncio.sleep``/disconnect waits), so one
process serves hundreds of concurrent connections, as a benchmark upstream must.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import re
import socket
import struct
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gemini_service.fake import wire
from gemini_service.fake.config import FakeConfig
from gemini_service.fake.faults import (
    API_KEY_INVALID,
    API_KEY_MISSING,
    CATALOGUE,
    DEADLINE_EXCEEDED,
    DIRECTIVE_PATTERN,
    FAULT_HEADER,
    Behaviour,
    ErrorReply,
    Fault,
    unknown_fault,
)

API_VERSIONS = ("v1", "v1beta")
MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
"""What ListModels reports; generation accepts any model name, like a permissive upstream."""
SSE_TYPE = "text/event-stream"
JSON_TYPE = "application/json"
SLOW_DEFAULT_SECONDS = 2.0
SLOW_STREAM_GAP_SECONDS = 0.5
MALFORMED_BODY = "<html><body><h1>502 Bad Gateway</h1></body></html>"
"""What a misbehaving intermediary sends: HTTP 200 would be a lie, but it happens."""
TRANSPORT_KEY = "fake_gemini.transport"
"""Scope key under which the server's transport travels, so ``drop`` can cut the connection."""
_REMEMBERED_ATTEMPTS = 10_000
_DISCONNECT_GRACE_SECONDS = 5.0


def create_app(config: FakeConfig | None = None) -> ASGIApp:
    """Build the fake; without ``config`` it is read from the ``FAKE_GEMINI_*`` variables."""
    fake = FakeGemini(config if config is not None else FakeConfig.from_env())
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/{version}/models", fake.list_models, methods=["GET"]),
        Route("/{version}/models/{target}", fake.get_model, methods=["GET"]),
        Route("/{version}/models/{target}", fake.call_model, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return _ExposeTransport(app)


async def health(request: Request) -> Response:
    """Liveness for Docker and compose: never depends on configuration or faults."""
    return JSONResponse({"status": "ok"})


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in Google's envelope rather than Starlette's plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    names = {404: "NOT_FOUND", 405: "NOT_FOUND"}
    return error_response(ErrorReply(status, names.get(status, "INTERNAL"), "Method not found."))


def error_response(reply: ErrorReply, model: str = "", version: str = "") -> Response:
    return JSONResponse(reply.body(model, version), reply.http_status, headers=dict(reply.headers))


class _ExposeTransport:
    """Pass uvicorn's transport to the app, the only way an ASGI app can drop a connection.

    ASGI has no "close without answering"; uvicorn's ``send`` is a method of an object that holds
    the transport. Under another server the key is absent and ``drop`` degrades to an error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            owner = getattr(send, "__self__", None)
            scope[TRANSPORT_KEY] = getattr(owner, "transport", None)
        await self.app(scope, receive, send)


class _AttemptLog:
    """Remembers which requests were already seen, so ``unavailable_once`` fails only the first.

    Bounded, oldest first out: a long benchmark must not grow the fake's memory.
    """

    def __init__(self, capacity: int = _REMEMBERED_ATTEMPTS) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def first_attempt(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


class FakeGemini:
    """The request handlers, sharing the config, the attempt log and the random draw."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self._attempts = _AttemptLog()
        self._random = random.Random(config.seed)  # noqa: S311 - chooses faults, not secrets

    async def list_models(self, request: Request) -> Response:
        if (refusal := self._refuse_key(request)) is not None:
            return error_response(refusal)
        self._check_version(request)
        return JSONResponse({"models": [_model_info(name) for name in MODELS]})

    async def get_model(self, request: Request) -> Response:
        if (refusal := self._refuse_key(request)) is not None:
            return error_response(refusal)
        self._check_version(request)
        name: str = request.path_params["target"]
        if ":" in name:  # a method such as generateContent, which is POST only
            raise HTTPException(404)
        return JSONResponse(_model_info(name))

    async def call_model(self, request: Request) -> Response:
        """``models/{model}:generateContent`` and ``:streamGenerateContent``."""
        version = self._check_version(request)
        model, _, method = request.path_params["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            raise HTTPException(404)
        if (refusal := self._refuse_key(request)) is not None:
            return error_response(refusal, model, version)
        body = await request.body()
        try:
            parsed = wire.parse_request(body)
            fault = self._choose_fault(request, parsed)
        except wire.WireError as error:
            return error_response(error.reply, model, version)
        call = _Call(request, version, model, method == "streamGenerateContent", parsed, body)
        await self._delay(fault)
        return await self._answer(call, fault)

    def _check_version(self, request: Request) -> str:
        version: str = request.path_params["version"]
        if version not in API_VERSIONS:
            raise HTTPException(404)
        return version

    def _refuse_key(self, request: Request) -> ErrorReply | None:
        """Google checks the key before reading the request: missing is 403, wrong is 400."""
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return API_KEY_MISSING
        expected = self.config.api_key
        if expected is not None and not hmac.compare_digest(key.encode(), expected.encode()):
            return API_KEY_INVALID
        return None

    def _choose_fault(self, request: Request, parsed: wire.GenerateRequest) -> Fault | None:
        """Prompt directive, then header, then FAKE_GEMINI_FAULT, then the random share."""
        match = next(
            (m for text in parsed.texts if (m := re.search(DIRECTIVE_PATTERN, text))), None
        )
        name = match.group(1) if match else request.headers.get(FAULT_HEADER) or self.config.fault
        if name is None and self._random.random() < self.config.fault_rate:
            name = self._random.choice(self.config.faults)
        if name is None:
            return None
        if name not in CATALOGUE:
            raise wire.WireError(unknown_fault(name))
        return CATALOGUE[name]

    async def _delay(self, fault: Fault | None) -> None:
        """Configured latency for every answer; ``slow`` waits that long, or 2 s when unset."""
        seconds = self.config.latency_ms / 1000
        if fault is not None and fault.behaviour is Behaviour.SLOW:
            seconds = seconds or SLOW_DEFAULT_SECONDS
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def _answer(self, call: _Call, fault: Fault | None) -> Response:
        """Act out the fault's behaviour; without one (or once it has passed), echo."""
        if fault is None:
            return call.echo()
        match fault.behaviour:
            case Behaviour.ERROR:
                return call.error(fault.error)
            case Behaviour.ERROR_ONCE if self._attempts.first_attempt(call.key):
                return call.error(fault.error)
            case Behaviour.STREAM_ERROR:
                return call.echo_then_fail(fault.error) if call.stream else call.error(fault.error)
            case Behaviour.MALFORMED:
                return Response(MALFORMED_BODY, media_type="text/html")
            case Behaviour.HANG:
                return await self._hang(call)
            case Behaviour.DROP | Behaviour.RESET:
                return await _cut_connection(call.request, abort=fault.behaviour is Behaviour.RESET)
            case Behaviour.SAFETY:
                return call.send([wire.safety_blocked(call.parsed, call.model)])
            case Behaviour.PROMPT_BLOCKED:
                return call.send([wire.prompt_blocked(call.parsed, call.model)])
            case Behaviour.SLOW_STREAM:
                return call.echo(gap=self.config.latency_ms / 1000 or SLOW_STREAM_GAP_SECONDS)
            case _:  # SLOW has already waited; ERROR_ONCE after its first attempt
                return call.echo()

    async def _hang(self, call: _Call) -> Response:
        """Hold the request until the client gives up, or answer 504 at the cap."""
        try:
            async with asyncio.timeout(self.config.hang_cap_seconds):
                await _until_disconnected(call.request)
        except TimeoutError:
            return call.error(DEADLINE_EXCEEDED)
        return Response(status_code=499)  # nobody is left to read it


class _Call:
    """One generate call: what was asked and how to put answers for it on the wire."""

    def __init__(
        self,
        request: Request,
        version: str,
        model: str,
        stream: bool,
        parsed: wire.GenerateRequest,
        body: bytes,
    ) -> None:
        self.request = request
        self.version = version
        self.model = model
        self.stream = stream
        self.parsed = parsed
        self.sse = _wants_sse(request)
        self.response_id = wire.response_id(body)
        self.key = hashlib.sha256(request.url.path.encode() + b"\0" + body).hexdigest()

    def error(self, reply: ErrorReply) -> Response:
        return error_response(reply, self.model, self.version)

    def echo(self, gap: float = 0.0) -> Response:
        """The deterministic answer: the prompt echoed, whole or in chunks `gap` s apart."""
        reply = self._reply()
        if self.stream:
            return self.send(list(wire.reply_chunks(self.parsed, reply, self.model)), gap)
        return self.send([wire.whole_response(self.parsed, reply, self.model)])

    def echo_then_fail(self, reply: ErrorReply) -> Response:
        """A stream that breaks after its first chunk, with the error as the last event."""
        first = next(wire.reply_chunks(self.parsed, self._reply(), self.model))
        return self.send([first, reply.body(self.model, self.version)])

    def send(self, payloads: list[dict[str, Any]], gap: float = 0.0) -> Response:
        """One JSON object, SSE events with ``?alt=sse``, or a JSON array streamed piecewise."""
        for payload in payloads:
            if "error" not in payload:
                payload["responseId"] = self.response_id
        if not self.stream:
            return JSONResponse(payloads[0])
        if self.sse:
            return StreamingResponse(_spaced(_sse_events(payloads), gap), media_type=SSE_TYPE)
        return StreamingResponse(_spaced(_array_pieces(payloads), gap), media_type=JSON_TYPE)

    def _reply(self) -> wire.Reply:
        echoed = wire.strip_directives(self.parsed.prompt, DIRECTIVE_PATTERN)
        return wire.echo_reply(self.parsed, echoed)


def _wants_sse(request: Request) -> bool:
    """``alt=sse`` (google-genai) or ``$alt=sse``; the older SDK sends ``$alt=json;...``."""
    alt = request.query_params.get("alt") or request.query_params.get("$alt") or ""
    return alt.split(";")[0] == "sse"


def _sse_events(payloads: list[dict[str, Any]]) -> list[bytes]:
    """Server-sent events, framed with CRLF as Google frames them."""
    return [b"data: " + json.dumps(payload).encode() + b"\r\n\r\n" for payload in payloads]


def _array_pieces(payloads: list[dict[str, Any]]) -> list[bytes]:
    """Google's JSON-array framing without ``alt=sse``, one piece per chunk (never empty)."""
    items = [json.dumps(payload, indent=2).encode() for payload in payloads]
    pieces = [(b"[" if position == 0 else b"\n,\r\n") + item for position, item in enumerate(items)]
    pieces[-1] += b"]"
    return pieces


async def _spaced(pieces: list[bytes], gap: float) -> AsyncIterator[bytes]:
    """Send each piece on its own: ``gap`` seconds apart, and at least one loop turn apart."""
    for position, piece in enumerate(pieces):
        if position:
            await asyncio.sleep(gap)
        yield piece


async def _until_disconnected(request: Request) -> None:
    """Wait for the ASGI disconnect event: the server sends it when the client goes away."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _cut_connection(request: Request, *, abort: bool) -> Response:
    """Close (FIN) or abort (RST) the socket before any response byte.

    The returned response is never delivered: uvicorn drops sends after the disconnect.
    """
    transport = request.scope.get(TRANSPORT_KEY)
    if transport is None:
        raise ConnectionAbortedError("dropping a connection needs the fake to run under uvicorn")
    if abort:
        # A zero linger time makes close() send RST instead of FIN: "connection reset by peer".
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_DISCONNECT_GRACE_SECONDS):
            await _until_disconnected(request)
    return Response(status_code=499)


def _model_info(name: str) -> dict[str, Any]:
    """A Model resource with the fields clients read when listing models."""
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": f"{name} (fake)",
        "description": "A deterministic echo model served by the fake Gemini.",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        "temperature": 1.0,
        "maxTemperature": 2.0,
    }
