"""Optional adapter: Gemini's REST API over aiohttp, without an SDK (`GEMINI_SDK=rest`).

What some LLM gateways do: write the request JSON, read the answer JSON. It needs about half the
CPU per call of google-genai, whose request and response conversion dominates its cost (measured
side by side against the fake), at the price of following the wire format here rather than in a
maintained SDK; google-genai stays the default. `SdkAdapter` gives it the same
deadline, retries and error table as the SDK adapters, and the same contract tests run on it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import aiohttp

from gemini_service.clients.adapter import Fragment, SdkAdapter
from gemini_service.clients.aiohttp_transport import open_session, translated_transport_errors
from gemini_service.clients.base import Prompt, TokenUsage
from gemini_service.clients.retry import Deadline
from gemini_service.clients.upstream_errors import error_for_status
from gemini_service.errors import ServiceError, UpstreamError
from gemini_service.settings import Settings

SSE_DATA: Final = b"data:"


class RestClient(SdkAdapter):
    """`GeminiClient` on Gemini's REST endpoints (`GEMINI_SDK=rest`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            model=settings.gemini_model,
            timeout_seconds=settings.gemini_timeout_seconds,
            max_retries=settings.gemini_max_retries,
        )
        base = f"{settings.api_endpoint}/{settings.gemini_api_version}/models/{self.model}"
        self._generate_url = f"{base}:generateContent"
        self._stream_url = f"{base}:streamGenerateContent?alt=sse"
        self._headers = {
            "x-goog-api-key": settings.gemini_api_key.get_secret_value(),
            "Content-Type": "application/json",
        }
        # A backstop only: SdkAdapter enforces the deadline around every call.
        self._timeout = aiohttp.ClientTimeout(total=settings.gemini_timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http()

    def _http(self) -> aiohttp.ClientSession:
        """The connection pool, opened on first use: a session needs the running loop."""
        if self._session is None:
            self._session = open_session()
        return self._session

    async def _generate_once(self, prompt: Prompt, deadline: Deadline) -> Fragment:
        with translated_transport_errors():
            async with self._post(self._generate_url, prompt) as response:
                body = await response.read()
                if response.status != 200:
                    raise _upstream_error(response.status, body, response.headers)
            return _fragment(json.loads(body))

    async def _stream_once(
        self, prompt: Prompt, deadline: Deadline
    ) -> AsyncGenerator[Fragment, None]:
        """Server-sent events; Google ends a stream that fails midway with an `error` event."""
        with translated_transport_errors():
            async with self._post(self._stream_url, prompt) as response:
                if response.status != 200:
                    body = await response.read()
                    raise _upstream_error(response.status, body, response.headers)
                async for line in response.content:
                    if line.startswith(SSE_DATA):
                        yield _event_fragment(json.loads(line[len(SSE_DATA) :]))

    def _post(
        self, url: str, prompt: Prompt
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        return self._http().post(
            url, data=_request_body(prompt), headers=self._headers, timeout=self._timeout
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _request_body(prompt: Prompt) -> bytes:
    """GenerateContentRequest: one user turn and the sampling options."""
    return json.dumps(
        {
            "contents": [{"role": "user", "parts": [{"text": prompt.text}]}],
            "generationConfig": {
                "temperature": prompt.temperature,
                "maxOutputTokens": prompt.max_output_tokens,
            },
        }
    ).encode()


def _upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> ServiceError:
    """Google's `{"error": {...}}` envelope (or whatever a proxy sent) onto the error table."""
    try:
        envelope: Any = json.loads(body)
    except ValueError:
        envelope = None
    return error_for_status(status, envelope, headers.get("Retry-After"))


def _event_fragment(event: Any) -> Fragment:
    error = event.get("error") if isinstance(event, Mapping) else None
    if isinstance(error, Mapping):
        code = error.get("code")
        raise error_for_status(code if isinstance(code, int) else 500, event)
    return _fragment(event)


def _fragment(response: Any) -> Fragment:
    """A GenerateContentResponse (JSON) as a Fragment; any other shape is an upstream error.

    (The SDKs reject such a body in their own validation, which maps to the same error.)
    """
    try:
        return _read(response)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise UpstreamError() from exc


def _read(response: Mapping[str, Any]) -> Fragment:
    """Read as the genai adapter reads the SDK's model of the same JSON."""
    candidate = _first(response.get("candidates"))
    usage = response.get("usageMetadata")
    return Fragment(
        text=_text(candidate),
        finish_reason=_finish_reason(candidate, response.get("promptFeedback")),
        usage=_usage(usage) if isinstance(usage, Mapping) else None,
        model=response.get("modelVersion"),
    )


def _first(candidates: Any) -> Mapping[str, Any] | None:
    return candidates[0] if isinstance(candidates, list) and candidates else None


def _text(candidate: Mapping[str, Any] | None) -> str:
    """The answer's text parts, without "thought" parts that Gemini 2.5 may include."""
    parts = (candidate or {}).get("content", {}).get("parts") or []
    return "".join(part.get("text", "") for part in parts if not part.get("thought"))


def _finish_reason(candidate: Mapping[str, Any] | None, feedback: Any) -> str | None:
    """The candidate's finish reason, or the block reason when the prompt itself was refused."""
    if candidate is not None:
        reason = candidate.get("finishReason")
        return str(reason) if reason else None
    return str(feedback["blockReason"]) if feedback and feedback.get("blockReason") else None


def _usage(usage: Mapping[str, Any]) -> TokenUsage:
    prompt_tokens = int(usage.get("promptTokenCount", 0))
    output_tokens = int(usage.get("candidatesTokenCount", 0))
    total = int(usage.get("totalTokenCount", 0)) or prompt_tokens + output_tokens
    return TokenUsage(prompt_tokens, output_tokens, total)
