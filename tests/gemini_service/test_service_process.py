"""`python -m gemini_service` as a real process: JSON logs, secrecy, graceful SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gemini_workflow.ports import free_port
from tests.gemini_service.service_support import CANARY_KEY, Served, running

PROMPT_WORD = "zebracorn"  # appears in every prompt; must never appear in the logs
FAULTS = ["bad_key", "rate_limit", "unavailable", "internal", "malformed", "drop", "safety"]


@pytest.fixture
def service_process(fake_gemini: str, tmp_path: Path) -> Iterator[tuple[str, Served]]:
    port = free_port()
    env = {
        "GEMINI_API_KEY": CANARY_KEY,
        "GEMINI_API_ENDPOINT": fake_gemini,
        "GEMINI_TIMEOUT_SECONDS": "5",
        "LOG_LEVEL": "DEBUG",
        "PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}"
    with running(["-m", "gemini_service"], env, f"{url}/health", tmp_path) as served:
        yield url, served


def exercise(url: str) -> list[httpx.Response]:
    """Successes, every kind of failure, a stream, a bad request and an unknown path."""
    with httpx.Client(base_url=url, timeout=10) as client:
        prompts = [PROMPT_WORD] + [f"{PROMPT_WORD} [[fault:{fault}]]" for fault in FAULTS]
        responses = [client.post("/generate", json={"prompt": prompt}) for prompt in prompts]
        responses.append(client.post("/generate/stream", json={"prompt": PROMPT_WORD}))
        responses.append(client.post("/generate", json={"prompt": PROMPT_WORD, "x": 1}))
        responses.append(client.get("/nope"))
    return responses


def test_canary_key_never_appears_in_logs_or_responses(
    service_process: tuple[str, Served],
) -> None:
    url, served = service_process

    responses = exercise(url)
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=10)

    for response in responses:
        assert CANARY_KEY not in response.text
        assert CANARY_KEY not in str(response.headers)
    assert CANARY_KEY not in served.output()


def test_one_json_log_line_per_request_without_prompt_text(
    service_process: tuple[str, Served],
) -> None:
    url, served = service_process

    responses = exercise(url)
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=10)

    lines = [json.loads(line) for line in served.output().splitlines() if line.strip()]
    requests = [
        line
        for line in lines
        if line["logger"] == "gemini_service.access" and line["path"] != "/health"
    ]
    logged = {line["request_id"]: line for line in requests}
    assert len(logged) == len(requests) == len(responses)  # exactly one line per request
    for response in responses:  # lines may interleave: a stream is logged once it has ended
        assert logged[response.headers["X-Request-ID"]]["status"] == response.status_code
    first = logged[responses[0].headers["X-Request-ID"]]
    assert first["method"] == "POST"
    assert first["path"] == "/generate"
    assert first["model"] == "gemini-2.5-flash"
    assert first["upstream_status"] == 200
    assert first["prompt_chars"] == len(PROMPT_WORD)
    assert isinstance(first["latency_ms"], float)
    assert logged[responses[1].headers["X-Request-ID"]]["upstream_status"] == 400  # bad_key
    assert PROMPT_WORD not in served.output()


def test_sigterm_lets_in_flight_requests_finish(fake_gemini: str, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"GEMINI_API_KEY": "k", "GEMINI_API_ENDPOINT": fake_gemini, "PORT": str(port)}
    results: list[httpx.Response] = []

    with running(["-m", "gemini_service"], env, f"{url}/health", tmp_path) as served:
        slow = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{url}/generate", json={"prompt": "[[fault:slow]]"}, timeout=10)
            )
        )
        slow.start()
        time.sleep(0.5)  # the request is now waiting on the 2 s upstream
        served.process.send_signal(signal.SIGTERM)
        slow.join(timeout=10)
        exit_code = served.process.wait(timeout=10)

    assert [r.status_code for r in results] == [200]
    assert exit_code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it is done
    assert "Finished server process" in served.output()
