"""The catalogue's invariants and the pieces that only show at the edges."""

from __future__ import annotations

import httpx
import pytest

from gemini_service.fake.config import FakeConfig
from gemini_service.fake.faults import CATALOGUE, Behaviour, ErrorReply, Fault
from gemini_service.fake.server import _AttemptLog, create_app

NEEDS_REPLY = {Behaviour.ERROR, Behaviour.ERROR_ONCE, Behaviour.STREAM_ERROR}


@pytest.mark.parametrize("fault", CATALOGUE.values(), ids=list(CATALOGUE))
def test_faults_that_answer_errors_have_one(fault: Fault) -> None:
    assert (fault.reply is not None) == (fault.behaviour in NEEDS_REPLY)


def test_asking_a_non_error_fault_for_its_error_is_a_bug() -> None:
    with pytest.raises(LookupError, match="'hang'"):
        _ = CATALOGUE["hang"].error


def test_error_body_fills_model_and_version_everywhere() -> None:
    reply = ErrorReply(404, "NOT_FOUND", "{model} in {version}", details=({"m": ["{model}"]},))

    assert reply.body("gem", "v1") == {
        "error": {
            "code": 404,
            "message": "gem in v1",
            "status": "NOT_FOUND",
            "details": [{"m": ["gem"]}],
        }
    }


def test_attempt_log_forgets_the_oldest_beyond_capacity() -> None:
    log = _AttemptLog(capacity=2)

    firsts = [log.first_attempt(key) for key in ("a", "b", "a", "c", "a")]

    assert firsts == [True, True, False, True, True]


async def test_drop_outside_uvicorn_fails_loudly() -> None:
    transport = httpx.ASGITransport(app=create_app(FakeConfig()))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        with pytest.raises(ConnectionAbortedError, match="uvicorn"):
            await client.post(
                "/v1beta/models/m:generateContent",
                headers={"x-goog-api-key": "k", "x-fake-fault": "drop"},
                json={"contents": [{"parts": [{"text": "hi"}]}]},
            )
