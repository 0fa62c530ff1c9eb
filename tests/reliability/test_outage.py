"""Failures of the parts around the app, under load: upstream outage, app crash, SIGTERM.

Each scenario runs load through api-proxy while it breaks something for real (stops the fake
Gemini container, kills the app's process, sends the app SIGTERM) and judges every response
by when it was sent relative to the break.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gemini_workflow.stack_up import RunningStack
from tests.reliability.traffic import Call, Outcome, drive, judge, send, summary

WORKERS = 8
OUTAGE_SECONDS = 10.0
RECOVERY_SECONDS = 5.0


def generate(_rng: object) -> Call:
    return Call.generate("reliability under failure")


async def load_while(
    stack: RunningStack, seconds: float, action: Callable[[], Awaitable[dict[str, float]]]
) -> tuple[list[Outcome], dict[str, float]]:
    """Run load for `seconds` and the action alongside it; return outcomes and its timeline."""
    load = asyncio.create_task(drive(stack.proxy_url, generate, workers=WORKERS, seconds=seconds))
    timeline = await action()
    return await load, timeline


def started_between(outcomes: list[Outcome], start: float, end: float) -> list[Outcome]:
    return [o for o in outcomes if start <= o.started < end]


def app_identity(stack: RunningStack) -> tuple[int, str]:
    attrs = stack.container("gemini-app").attrs
    return attrs["RestartCount"], attrs["State"]["StartedAt"]


def test_upstream_outage_gives_only_mapped_503_504_then_full_recovery(
    clean_stack: RunningStack,
) -> None:
    before = app_identity(clean_stack)

    async def outage() -> dict[str, float]:
        await asyncio.sleep(3)
        stopping = time.monotonic()
        await asyncio.to_thread(clean_stack.project.run, "stop", "--timeout", "1", "fake-gemini")
        down = time.monotonic()
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (down - stopping)))
        starting = time.monotonic()
        await asyncio.to_thread(clean_stack.project.run, "start", "fake-gemini")
        return {"stopping": stopping, "down": down, "starting": starting, "back": time.monotonic()}

    total = 3 + OUTAGE_SECONDS + RECOVERY_SECONDS + 10
    outcomes, t = asyncio.run(load_while(clean_stack, total, outage))

    # Sent and answered while the upstream was down. (A request sent late in the outage may
    # succeed: the app's retries can reach the upstream once it is back. That is the point.)
    during = [
        o for o in started_between(outcomes, t["down"], t["starting"]) if o.finished < t["starting"]
    ]
    after = started_between(outcomes, t["back"] + RECOVERY_SECONDS, float("inf"))
    assert during, "no request was sent during the outage"
    bad = [judge(o, allowed_statuses=(503, 504)) for o in outcomes]
    assert not [b for b in bad if b], f"{summary(outcomes)}: {[b for b in bad if b][:5]}"
    assert all(o.status in (503, 504) for o in during), f"during the outage: {summary(during)}"
    assert after, "no request was sent after the recovery window"
    assert all(o.status == 200 for o in after), (
        f"{RECOVERY_SECONDS:.0f} s after the upstream returned: {summary(after)}"
    )
    assert app_identity(clean_stack) == before, "the app restarted during the outage"


def test_app_crash_answers_json_errors_at_the_proxy_and_recovers(clean_stack: RunningStack) -> None:
    restarts_before, _ = app_identity(clean_stack)

    async def crash() -> dict[str, float]:
        await asyncio.sleep(2)
        app = clean_stack.container("gemini-app")
        top = app.top(ps_args="-o pid,comm")
        pids = [int(p[0]) for p in top["Processes"] if "python" in p[1]]
        assert pids, f"no python process in gemini-app: {top}"
        killed = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)  # a crash, not a shutdown: no chance to clean up
        return {"killed": killed}

    outcomes, t = asyncio.run(load_while(clean_stack, 45, crash))

    problems = [judge(o, allowed_statuses=(502, 503, 504)) for o in outcomes]
    assert not [p for p in problems if p], [p for p in problems if p][:5]
    failed = [o for o in outcomes if o.status != 200]
    assert failed, "killing the app caused no failed request: was it killed?"
    last_failure = max(o.started for o in failed)
    recovered = started_between(outcomes, last_failure + 0.001, float("inf"))
    assert len(recovered) >= WORKERS, f"traffic did not recover: {summary(outcomes)}"
    assert all(o.status == 200 for o in recovered)
    restarts_after, _ = app_identity(clean_stack)
    assert restarts_after == restarts_before + 1, "compose's restart policy did not restart it"
    assert last_failure - t["killed"] < 30, "the app took over 30 s to serve again"


@pytest.mark.parametrize("in_flight", [10])
def test_sigterm_lets_in_flight_requests_finish_and_exits_within_3_s(
    clean_stack: RunningStack, in_flight: int
) -> None:
    app = clean_stack.container("gemini-app")
    slow = Call.generate("[[fault:slow]] finish me", label="slow")  # the fake answers in 2 s

    async def scenario() -> tuple[list[Outcome], float]:
        async with httpx.AsyncClient(base_url=clean_stack.proxy_url, timeout=30) as client:
            requests = [asyncio.create_task(send(client, slow)) for _ in range(in_flight)]
            await asyncio.sleep(0.7)  # all are now waiting on the upstream
            stop_seconds = await asyncio.to_thread(timed_stop, app)
            return list(await asyncio.gather(*requests)), stop_seconds

    try:
        outcomes, stop_seconds = asyncio.run(scenario())
    finally:
        clean_stack.project.run("start", "gemini-app")
        clean_stack.project.run("up", "-d", "--wait", "--wait-timeout", "60")

    assert [o.status for o in outcomes] == [200] * in_flight, summary(outcomes)
    assert stop_seconds < 3.0, f"the app took {stop_seconds:.1f} s to exit after SIGTERM"


def timed_stop(container: Any) -> float:
    """`docker stop`: SIGTERM, then SIGKILL after 10 s; returns how long the exit took."""
    started = time.monotonic()
    container.stop(timeout=10)
    return time.monotonic() - started
