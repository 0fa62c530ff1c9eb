"""The retry policy: what is retried, how often, and that the deadline covers it all."""

from __future__ import annotations

import asyncio
import time

import pytest

from gemini_service.clients import retry
from gemini_service.clients.retry import Deadline, backoff_seconds, call_with_retries
from gemini_service.errors import ServiceError, UpstreamError, UpstreamTimeout, UpstreamUnavailable


class Attempts:
    """An attempt function that fails with the given errors, then succeeds."""

    def __init__(self, *failures: ServiceError, delay: float = 0.0) -> None:
        self.failures = list(failures)
        self.delay = delay
        self.count = 0

    async def __call__(self) -> str:
        self.count += 1
        await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "FIRST_BACKOFF_SECONDS", 0.01)


async def test_unavailable_is_retried_until_success() -> None:
    attempts = Attempts(UpstreamUnavailable(), UpstreamUnavailable())

    result = await call_with_retries(attempts, deadline=Deadline(5), max_retries=2)

    assert (result, attempts.count) == ("ok", 3)


async def test_retries_stop_at_max_retries() -> None:
    attempts = Attempts(*[UpstreamUnavailable() for _ in range(5)])

    with pytest.raises(UpstreamUnavailable):
        await call_with_retries(attempts, deadline=Deadline(5), max_retries=2)
    assert attempts.count == 3


@pytest.mark.parametrize("error", [UpstreamError(), UpstreamTimeout()])
async def test_other_errors_are_not_retried(error: ServiceError) -> None:
    attempts = Attempts(error)

    with pytest.raises(type(error)):
        await call_with_retries(attempts, deadline=Deadline(5), max_retries=5)
    assert attempts.count == 1


async def test_deadline_covers_attempts_and_retries() -> None:
    attempts = Attempts(*[UpstreamUnavailable() for _ in range(10)], delay=0.1)
    started = time.monotonic()

    with pytest.raises((UpstreamTimeout, UpstreamUnavailable)):
        await call_with_retries(attempts, deadline=Deadline(0.3), max_retries=10)
    assert time.monotonic() - started < 1.0  # ten attempts alone would take 1 s


async def test_slow_attempt_becomes_upstream_timeout() -> None:
    with pytest.raises(UpstreamTimeout):
        await call_with_retries(Attempts(delay=1), deadline=Deadline(0.05), max_retries=2)


async def test_no_retry_is_started_that_the_deadline_cannot_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retry, "FIRST_BACKOFF_SECONDS", 10.0)
    attempts = Attempts(UpstreamUnavailable())
    started = time.monotonic()

    with pytest.raises(UpstreamUnavailable):
        await call_with_retries(attempts, deadline=Deadline(2), max_retries=3)
    assert attempts.count == 1
    assert time.monotonic() - started < 1.0  # not 2 s of waiting for the deadline


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for attempt in range(10):
        ceiling = min(retry.MAX_BACKOFF_SECONDS, retry.FIRST_BACKOFF_SECONDS * 2**attempt)
        assert ceiling / 2 <= backoff_seconds(attempt) <= ceiling
