"""POST /generate/stream over each real SDK: events, and errors before and after the first."""

from __future__ import annotations

import json

import httpx

from tests.gemini_service.service_support import sse_events


async def test_stream_sends_chunks_then_done(service: httpx.AsyncClient) -> None:
    prompt = "one two three four five six"

    response = await service.post("/generate/stream", json={"prompt": prompt})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names == ["chunk"] * (len(names) - 1) + ["done"]
    assert len(names) > 2
    text = "".join(json.loads(data)["text"] for name, data in events if name == "chunk")
    assert text == f"Echo: {prompt}"
    done = json.loads(events[-1][1])
    assert done["finish_reason"] == "STOP"
    assert done["usage"] == {"prompt_tokens": 6, "output_tokens": 7, "total_tokens": 13}
    assert done["request_id"] == response.headers["X-Request-ID"]


async def test_failure_before_first_chunk_is_an_ordinary_error_response(
    service: httpx.AsyncClient,
) -> None:
    response = await service.post("/generate/stream", json={"prompt": "hi [[fault:rate_limit]]"})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "rate_limited"


async def test_failure_after_first_chunk_ends_stream_with_error_event(
    service: httpx.AsyncClient,
) -> None:
    response = await service.post(
        "/generate/stream", json={"prompt": "one two three four five [[fault:stream_error]]"}
    )

    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[0][0] == "chunk"
    assert events[-1][0] == "error"
    error = json.loads(events[-1][1])["error"]
    assert error["code"] == "upstream_error"
    assert error["request_id"] == response.headers["X-Request-ID"]


async def test_blocked_stream_ends_with_blocked_done_event(service: httpx.AsyncClient) -> None:
    response = await service.post("/generate/stream", json={"prompt": "hi [[fault:safety]]"})

    events = sse_events(response.text)
    assert [name for name, _ in events] == ["done"]
    done = json.loads(events[0][1])
    assert (done["finish_reason"], done["blocked"]) == ("SAFETY", True)
