"""One deadline per upstream call, and the retry policy that runs inside it.

Shared by every adapter so that "GEMINI_TIMEOUT_SECONDS covers retries" and "retry only
503s and connection failures" are implemented once, in terms of domain errors.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from gemini_service.errors import UpstreamTimeout, UpstreamUnavailable

T = TypeVar("T")

FIRST_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 4.0


class Deadline:
    """A point in (event-loop) time after which the upstream call has failed."""

    def __init__(self, seconds: float) -> None:
        self._at = asyncio.get_running_loop().time() + seconds

    def remaining(self) -> float:
        return max(0.0, self._at - asyncio.get_running_loop().time())

    @asynccontextmanager
    async def enforce(self) -> AsyncIterator[None]:
        """Cancel the awaited work at the deadline and report it as `UpstreamTimeout`."""
        try:
            async with asyncio.timeout_at(self._at):
                yield
        except TimeoutError:
            raise UpstreamTimeout() from None


def backoff_seconds(retry: int) -> float:
    """Exponential backoff with full jitter, so synchronized clients spread out."""
    ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**retry)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not cryptography)


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]], *, deadline: Deadline, max_retries: int
) -> T:
    """Run `attempt`, retrying `UpstreamUnavailable` up to `max_retries` times before the deadline.

    A retry whose backoff would outlast the deadline is not started: the caller learns at
    once that the upstream is unavailable instead of waiting to be told it timed out.
    """
    async with deadline.enforce():
        retry = 0
        while True:
            try:
                return await attempt()
            except UpstreamUnavailable:
                delay = backoff_seconds(retry)
                if retry >= max_retries or delay >= deadline.remaining():
                    raise
            await asyncio.sleep(delay)
            retry += 1
