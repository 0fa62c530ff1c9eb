"""The one way the workflow and its tests wait: poll a check until it holds or time runs out.

Built on tenacity (a dependency of google-genai already), so the polling policy lives in one
place: a fixed short interval, a deadline, transport errors counted as "not yet", and a
timeout that says what was awaited and what was last seen.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from gemini_workflow.errors import WorkflowError


class WaitTimeout(WorkflowError):
    """The awaited condition did not hold in time; the message names it and the last state."""


def until(
    check: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 0.25,
    what: str = "the condition",
    retry_on: tuple[type[BaseException], ...] = (OSError,),
) -> float:
    """Call `check` until it returns something truthy; return the seconds that took.

    Exceptions of the `retry_on` types count as "not yet" (a port that does not listen yet is
    an OSError); others propagate at once.
    """
    started = time.monotonic()
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda value: not value) | retry_if_exception_type(retry_on),
        reraise=False,
    )
    try:
        retrying(check)
    except RetryError as exc:
        last = exc.last_attempt
        seen = repr(last.exception()) if last.failed else repr(last.result())
        raise WaitTimeout(f"{what} did not happen within {timeout:g} s (last: {seen})") from None
    return time.monotonic() - started


def http_status(url: str, timeout: float = 1.0) -> int:
    """The status a GET of `url` answers; an HTTP error status is an answer, not a failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def http_ok(url: str, *, timeout: float = 60.0, interval: float = 0.05) -> float:
    """Wait until `url` answers 200; return the seconds that took."""
    return until(
        lambda: http_status(url) == 200,
        timeout=timeout,
        interval=interval,
        what=f"a 200 from {url}",
    )


def container_healthy(container: Any, *, timeout: float = 60.0, interval: float = 0.25) -> float:
    """Wait until a docker SDK container's own health check passes.

    Fails at once, not at the deadline, when waiting cannot help: the container exited, its
    check already says unhealthy, or it has no health check at all.
    """

    def healthy() -> bool:
        container.reload()
        state = container.attrs["State"]
        health = (state.get("Health") or {}).get("Status")
        if state.get("Status") in ("exited", "dead"):
            raise WorkflowError(f"container {container.name} exited ({state.get('ExitCode')})")
        if health is None:
            raise WorkflowError(f"container {container.name} has no HEALTHCHECK")
        if health == "unhealthy":
            raise WorkflowError(f"container {container.name} is unhealthy")
        return bool(health == "healthy")

    return until(healthy, timeout=timeout, interval=interval, what=f"{container.name} healthy")
