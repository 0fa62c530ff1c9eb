"""Optional adapter for the deprecated google-generativeai SDK (`GEMINI_SDK=legacy`).

Kept for teams still pinned to the SDK the original design named; install it with the
`legacy` extra. Its REST transport is blocking (its "async" path blocks the event loop), so
every SDK call runs in a bounded thread pool. Its default retry repeats a 503 for ten minutes
whatever the timeout, so retry is switched off here and `SdkAdapter` retries within the deadline.
The SDK keeps its configuration in module globals: create one LegacyClient per process.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, Final, TypeVar

from requests import exceptions as http_errors

from gemini_service.clients.adapter import Fragment, SdkAdapter
from gemini_service.clients.base import Prompt, TokenUsage
from gemini_service.clients.retry import Deadline
from gemini_service.clients.upstream_errors import error_for_status
from gemini_service.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gemini_service.settings import Settings

# Imported only when GEMINI_SDK=legacy selects this module; both packages announce the end of
# their support at import; LegacyClient says so once, in the service's own log format.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from google.api_core import exceptions as api_errors
    from google.generativeai.client import configure
    from google.generativeai.generative_models import GenerativeModel
    from google.generativeai.types.helper_types import RequestOptions
    from google.protobuf import json_format

T = TypeVar("T")
log = logging.getLogger(__name__)

# Threads bound how many legacy calls run at once; more calls wait in the pool's queue
# (still inside their deadline) instead of exhausting memory or Gemini's quota.
MAX_THREADS: Final = 64
LEGACY_API_VERSION: Final = "v1beta"
_END = object()


class LegacyClient(SdkAdapter):
    """`GeminiClient` on google-generativeai, over REST, off the event loop."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            model=settings.gemini_model,
            timeout_seconds=settings.gemini_timeout_seconds,
            max_retries=settings.gemini_max_retries,
        )
        log.warning("GEMINI_SDK=legacy: google-generativeai is unsupported; prefer genai")
        if settings.gemini_api_version != LEGACY_API_VERSION:
            log.warning("GEMINI_SDK=legacy always calls %s", LEGACY_API_VERSION)
        configure(
            api_key=settings.gemini_api_key.get_secret_value(),
            transport="rest",
            client_options={"api_endpoint": settings.api_endpoint},
        )
        self._sdk_model = GenerativeModel(settings.gemini_model)
        self._executor = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="gemini-legacy")

    async def _generate_once(self, prompt: Prompt, deadline: Deadline) -> Fragment:
        response = await self._in_thread(self._call, prompt, deadline.remaining(), stream=False)
        return _fragment(response)

    async def _stream_once(
        self, prompt: Prompt, deadline: Deadline
    ) -> AsyncGenerator[Fragment, None]:
        response = await self._in_thread(self._call, prompt, deadline.remaining(), stream=True)
        chunks = iter(response)
        while (chunk := await self._in_thread(next, chunks, _END)) is not _END:
            yield _fragment(chunk)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _call(self, prompt: Prompt, timeout: float, *, stream: bool) -> Any:
        """The blocking SDK call; `timeout` bounds each socket wait, so the thread ends too."""
        return self._sdk_model.generate_content(
            prompt.text,
            generation_config={
                "temperature": prompt.temperature,
                "max_output_tokens": prompt.max_output_tokens,
            },
            stream=stream,
            # retry=None: the SDK's default retry repeats a 503 for ten minutes.
            request_options=RequestOptions(retry=None, timeout=timeout),
        )

    async def _in_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking SDK call in the pool; the deadline's cancellation abandons the wait.

        The thread itself ends at the SDK's own timeout, set to what is left of the deadline.
        """
        loop = asyncio.get_running_loop()
        with _translated_errors():
            return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn api_core, requests and protobuf exceptions into domain errors."""
    try:
        yield
    except api_errors.GoogleAPICallError as exc:
        retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
        status = exc.code if isinstance(exc.code, int) else 502
        raise error_for_status(status, {"details": list(exc.details)}, retry_after) from exc
    except http_errors.Timeout as exc:
        raise UpstreamTimeout() from exc
    except (http_errors.ConnectionError, http_errors.ChunkedEncodingError) as exc:
        raise UpstreamUnavailable() from exc
    except (json_format.Error, ValueError, http_errors.RequestException) as exc:
        raise UpstreamError() from exc


def _fragment(response: Any) -> Fragment:
    usage = response.usage_metadata
    return Fragment(
        text=_text(response),
        finish_reason=_finish_reason(response),
        usage=TokenUsage(
            usage.prompt_token_count,
            usage.candidates_token_count,
            usage.total_token_count or usage.prompt_token_count + usage.candidates_token_count,
        )
        if usage
        else None,
    )


def _text(response: Any) -> str:
    if not response.candidates:
        return ""
    return "".join(part.text for part in response.candidates[0].content.parts)


def _finish_reason(response: Any) -> str | None:
    """Proto enums: 0 means unspecified, which for a stream chunk means "more to come"."""
    if response.candidates:
        reason = response.candidates[0].finish_reason
        return reason.name if reason else None
    feedback = response.prompt_feedback
    return feedback.block_reason.name if feedback and feedback.block_reason else None
