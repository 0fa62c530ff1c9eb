"""Client-side load for the reliability suite: closed-loop workers that record every outcome.

Unlike the bench's wrk runs, every response is kept and judged (status, error shape, leaked
secrets), so the client is Python (httpx) and the concurrency stays moderate.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gemini_service.errors import ERROR_TABLE
from gemini_workflow.stack_up import RunningStack

# Shaped like a real Google API key (so a redaction that only knows that shape must work)
# and unique per run (so an old log line can never satisfy or fail a new run).
CANARY_KEY = "AIzaCANARY" + secrets.token_hex(15)
SOAK_SECONDS = float(os.environ.get("GEMINI_SOAK_SECONDS", "180"))
"""Length of the soak; the issue asks for 3 minutes, shorten it while developing."""

NGINX_CONF = Path(__file__).resolve().parents[2] / "compose" / "nginx" / "nginx.conf"
# Codes the app maps upstream and request failures to (the error table), plus the ones
# api-proxy answers with itself when the app cannot, read from its config so they stay in sync.
APP_CODES = frozenset(spec.code for spec in ERROR_TABLE)
PROXY_CODES = frozenset(re.findall(r'"code":"([a-z_]+)"', NGINX_CONF.read_text()))


@dataclass(frozen=True)
class Call:
    """One request to send: what a worker picks for its next turn."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""

    @classmethod
    def generate(cls, prompt: str, label: str = "", stream: bool = False) -> Call:
        return cls(
            "POST",
            "/generate/stream" if stream else "/generate",
            json.dumps({"prompt": prompt}).encode(),
            {"Content-Type": "application/json"},
            label or ("stream" if stream else "generate"),
        )


@dataclass(frozen=True)
class Outcome:
    """What happened to one call; status None means no HTTP answer (a connection error)."""

    call: Call
    started: float
    finished: float
    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def error_shape_problem(outcome: Outcome, codes: frozenset[str] = APP_CODES | PROXY_CODES) -> str:
    """Why this non-2xx answer is not in the documented error shape ('' when it is)."""
    content_type = outcome.headers.get("content-type", "")
    if "json" not in content_type:
        return f"content-type {content_type!r}, body {outcome.text[:120]!r}"
    try:
        document = json.loads(outcome.body)
        error = document["error"]
        code, message, request_id = error["code"], error["message"], error["request_id"]
    except (ValueError, KeyError, TypeError):
        return f"not the error shape: {outcome.text[:200]!r}"
    if set(document) != {"error"} or not all(
        isinstance(v, str) and v for v in (code, message, request_id)
    ):
        return f"error shape has wrong fields or types: {outcome.text[:200]!r}"
    if code not in codes:
        return f"unknown error code {code!r}"
    return ""


def stream_problem(outcome: Outcome) -> str:
    """A 200 stream must end with exactly one `done` or `error` event."""
    events = [line.removeprefix("event:").strip() for line in outcome.text.splitlines()]
    events = [line for line in events if line in {"chunk", "done", "error"}]
    if not events or events[-1] not in {"done", "error"}:
        return f"stream does not end with done/error: {outcome.text[-200:]!r}"
    return ""


def judge(outcome: Outcome, allowed_statuses: Sequence[int]) -> str:
    """'' when the outcome is a success or an allowed, well-shaped error; else why not."""
    if outcome.status is None:
        return f"connection error: {outcome.error}"
    if outcome.status == 200:
        if outcome.call.path.endswith("/stream"):
            return stream_problem(outcome)
        return ""
    if outcome.status not in allowed_statuses:
        return f"status {outcome.status} not allowed: {outcome.text[:200]!r}"
    return error_shape_problem(outcome)


async def send(client: httpx.AsyncClient, call: Call) -> Outcome:
    started = time.monotonic()
    try:
        response = await client.request(
            call.method, call.path, content=call.body, headers=call.headers
        )
    except httpx.HTTPError as exc:
        return Outcome(call, started, time.monotonic(), None, error=f"{type(exc).__name__}: {exc}")
    return Outcome(
        call,
        started,
        time.monotonic(),
        response.status_code,
        response.content,
        {k.lower(): v for k, v in response.headers.items()},
    )


async def drive(
    base_url: str,
    pick: Callable[[random.Random], Call],
    *,
    workers: int,
    seconds: float,
    max_requests: int = 100_000,
    request_timeout: float = 30.0,
    seed: int = 6,
) -> list[Outcome]:
    """Closed-loop load: `workers` clients, each sending its next call on an answer.

    Bounded by time and by count; stops by itself.
    """
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + n)
        while time.monotonic() < deadline and len(outcomes) < max_requests:
            outcomes.append(await send(client, pick(rng)))

    async with httpx.AsyncClient(
        base_url=base_url, timeout=request_timeout, limits=limits
    ) as client:
        await asyncio.gather(*(worker(n, client) for n in range(workers)))
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> dict[Any, int]:
    """Counts by status (None = connection error), for assertion messages."""
    counts: dict[Any, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


def leaks(stack: RunningStack, key: str) -> list[str]:
    """Where the key shows up in a stack's logs or its containers' configuration."""
    found: list[str] = []
    for line in stack.logs().splitlines():
        if key in line:
            found.append(f"log line: {line[:160].replace(key, '<KEY>')}")
    for service in ("gemini-app", "fake-gemini", "api-proxy"):
        attrs = stack.container(service).attrs
        if key in repr(attrs["Config"]) or key in repr(attrs["HostConfig"]):
            found.append(f"`docker inspect` of {service}")
    return found
