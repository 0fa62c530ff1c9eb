"""The default adapter: google-genai's native async client, over aiohttp.

One `genai.Client` (and so one connection pool) lives for the whole process: creating a
client per request costs a TLS handshake each time, and a temporary client is closed by its
destructor mid-call. The SDK's own retries stay off; `SdkAdapter` retries within the deadline.

Transport: google-genai sends through aiohttp whenever aiohttp is installed (its `aiohttp`
extra, which this project depends on). Its pool and C HTTP parser need about a third less CPU
per call than the SDK's default httpx2 transport, whose pool re-scans every connection on every
request; that difference is what keeps 200 concurrent requests under 1.5 s on two cores.

The aiohttp session is ours, not the SDK's: the SDK opens its own with `trust_env=True`, which
makes aiohttp read ~/.netrc and the proxy variables on every request, each in a worker thread.
Ours trusts the environment only when a proxy is configured (see `open_session`), and needs the
running event loop, so the SDK client is built at app startup (`start`) or on first use.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager

import aiohttp
import certifi
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from gemini_service.clients.adapter import Fragment, SdkAdapter
from gemini_service.clients.aiohttp_transport import open_session, translated_transport_errors
from gemini_service.clients.base import Prompt, TokenUsage
from gemini_service.clients.genai_config import request_config
from gemini_service.clients.retry import Deadline
from gemini_service.clients.upstream_errors import error_for_status
from gemini_service.settings import Settings


class GenaiClient(SdkAdapter):
    """`GeminiClient` on google-genai (`GEMINI_SDK=genai`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            model=settings.gemini_model,
            timeout_seconds=settings.gemini_timeout_seconds,
            max_retries=settings.gemini_max_retries,
        )
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._client: genai.Client | None = None

    async def start(self) -> None:
        self._sdk()

    def _sdk(self) -> genai.Client:
        """The one SDK client, built on first use: its aiohttp session needs the running loop."""
        if self._client is None:
            self._session = open_session()
            self._client = _sdk_client(self._settings, self._session)
        return self._client

    async def _generate_once(self, prompt: Prompt, deadline: Deadline) -> Fragment:
        # The deadline is enforced around this await by SdkAdapter; nothing to pass down.
        config = request_config(prompt.temperature, prompt.max_output_tokens)
        with _translated_errors():
            response = await self._sdk().aio.models.generate_content(
                model=self._model, contents=prompt.text, config=config
            )
            return _fragment(response)

    async def _stream_once(
        self, prompt: Prompt, deadline: Deadline
    ) -> AsyncGenerator[Fragment, None]:
        config = request_config(prompt.temperature, prompt.max_output_tokens)
        with _translated_errors():
            stream = await self._sdk().aio.models.generate_content_stream(
                model=self._model, contents=prompt.text, config=config
            )
            async for response in stream:
                yield _fragment(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
        if self._session is not None:  # the SDK leaves a session it was given to its owner
            await self._session.close()


def _verifying_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client the SDK builds, instead of one each.

    Given none, google-genai builds three at construction (its httpx and httpx2 clients, which
    this service never sends through, and its aiohttp path), loading the CA bundle each time:
    about 50 ms of every cold start, measured in the image. This is the context the SDK builds
    for its aiohttp path, the one that sends: certifi's bundle unless SSL_CERT_FILE or
    SSL_CERT_DIR name another.
    """
    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE", certifi.where()),
        capath=os.environ.get("SSL_CERT_DIR"),
    )


def _sdk_client(settings: Settings, session: aiohttp.ClientSession) -> genai.Client:
    trust = _verifying_context()
    return genai.Client(
        api_key=settings.gemini_api_key.get_secret_value(),
        vertexai=False,
        http_options=types.HttpOptions(
            base_url=settings.api_endpoint,
            api_version=settings.gemini_api_version,
            # A backstop only: SdkAdapter enforces the deadline around every call.
            timeout=int(settings.gemini_timeout_seconds * 1000),
            # One attempt per call: SdkAdapter owns retries. Without retry options the SDK's
            # aiohttp path quietly retries a dropped connection once, after sleeping 1-10 s.
            retry_options=types.HttpRetryOptions(attempts=1),
            aiohttp_client=session,
            # httpx reads `verify`, aiohttp `ssl`; the SDK drops what a client does not take.
            client_args={"verify": trust},
            async_client_args={"verify": trust, "ssl": trust},
        ),
    )


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn google-genai's and aiohttp's exceptions into domain errors; nothing else escapes."""
    with translated_transport_errors():
        try:
            yield
        except genai_errors.APIError as exc:
            response = exc.response
            retry_after = response.headers.get("retry-after") if response is not None else None
            raise error_for_status(exc.code, exc.details, retry_after) from exc


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
