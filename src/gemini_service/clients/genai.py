"""The default adapter: google-genai's native async client over httpx2.

One `genai.Client` and one httpx2 connection pool live for the whole process: creating a
client per request costs a TLS handshake each time, and a temporary client is closed by its
destructor mid-call. The SDK's own retries stay off; `SdkAdapter` retries within the deadline.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Final

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from gemini_service.clients.adapter import Fragment, SdkAdapter
from gemini_service.clients.base import Prompt, TokenUsage
from gemini_service.clients.retry import Deadline
from gemini_service.clients.upstream_errors import error_for_status
from gemini_service.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gemini_service.settings import Settings

# Each in-flight call holds one connection; httpx2's default cap of 100 would queue a burst in
# our pool rather than at Gemini. Few idle connections are kept because httpx2 polls every idle
# socket on every request: with hundreds idle, that scan costs more CPU than reconnecting
# (measured: 200 concurrent calls used about 40% less CPU with 20 than with 200).
MAX_CONNECTIONS: Final = 1000
MAX_KEEPALIVE_CONNECTIONS: Final = 20


class GenaiClient(SdkAdapter):
    """`GeminiClient` on google-genai (`GEMINI_SDK=genai`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            model=settings.gemini_model,
            timeout_seconds=settings.gemini_timeout_seconds,
            max_retries=settings.gemini_max_retries,
        )
        # Our own httpx2 client pins the transport (the SDK would silently switch to aiohttp
        # if that were installed, raising different exceptions) and sizes the pool.
        self._http = httpx2.AsyncClient(
            limits=httpx2.Limits(
                max_connections=MAX_CONNECTIONS,
                max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            ),
            timeout=settings.gemini_timeout_seconds,
        )
        self._client = genai.Client(
            api_key=settings.gemini_api_key.get_secret_value(),
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=settings.api_endpoint,
                api_version=settings.gemini_api_version,
                httpx_async_client=self._http,
            ),
        )

    async def _generate_once(self, prompt: Prompt, deadline: Deadline) -> Fragment:
        # The deadline is enforced around this await by SdkAdapter; nothing to pass down.
        with _translated_errors():
            response = await self._client.aio.models.generate_content(
                model=self._model, contents=prompt.text, config=_config(prompt)
            )
            return _fragment(response)

    async def _stream_once(
        self, prompt: Prompt, deadline: Deadline
    ) -> AsyncGenerator[Fragment, None]:
        with _translated_errors():
            stream = await self._client.aio.models.generate_content_stream(
                model=self._model, contents=prompt.text, config=_config(prompt)
            )
            async for response in stream:
                yield _fragment(response)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        await self._http.aclose()


def _config(prompt: Prompt) -> types.GenerateContentConfig:
    """Per-call options. No per-call http_options: the SDK deep-copies them on every call.

    The deadline is enforced around the call (and by the client's HTTP timeout, as a backstop).
    """
    return types.GenerateContentConfig(
        temperature=prompt.temperature,
        max_output_tokens=prompt.max_output_tokens,
        automatic_continuation=False,  # one call per attempt, so the deadline math holds
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn google-genai's and httpx2's exceptions into domain errors; nothing else escapes."""
    try:
        yield
    except genai_errors.APIError as exc:
        retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
        raise error_for_status(exc.code, exc.details, retry_after) from exc
    except httpx2.TimeoutException as exc:
        raise UpstreamTimeout() from exc
    except httpx2.TransportError as exc:  # refused, reset, closed early, DNS
        raise UpstreamUnavailable() from exc
    except ValueError as exc:  # a body that is not JSON, or JSON that is not a response
        raise UpstreamError() from exc


def _fragment(response: types.GenerateContentResponse) -> Fragment:
    usage = response.usage_metadata
    return Fragment(
        text=_text(response),
        finish_reason=_finish_reason(response),
        usage=_usage(usage) if usage else None,
        model=response.model_version,
    )


def _text(response: types.GenerateContentResponse) -> str:
    """The answer's text parts, without "thought" parts that Gemini 2.5 may include."""
    content = response.candidates[0].content if response.candidates else None
    parts = content.parts if content and content.parts else []
    return "".join(part.text for part in parts if part.text and not part.thought)


def _finish_reason(response: types.GenerateContentResponse) -> str | None:
    """The candidate's finish reason, or the block reason when the prompt itself was refused."""
    if response.candidates:
        reason = response.candidates[0].finish_reason
        return reason.value if reason else None
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason:
        return feedback.block_reason.value
    return None


def _usage(usage: types.GenerateContentResponseUsageMetadata) -> TokenUsage:
    prompt_tokens = usage.prompt_token_count or 0
    output_tokens = usage.candidates_token_count or 0
    total = usage.total_token_count or prompt_tokens + output_tokens
    return TokenUsage(prompt_tokens, output_tokens, total)
