"""The first answer: one POST /generate, its text or its error, and no answer at all."""

from __future__ import annotations

import pytest

from gemini_workflow import probe
from gemini_workflow.ports import free_port
from gemini_workflow.probe import ProbeError
from tests.gemini_workflow.stack_support import answering


def test_answer_text_is_the_generated_text_or_the_error() -> None:
    assert probe.Answer(200, {"text": " Hello \n"}, {}).text == "Hello"
    error = {"error": {"code": "rate_limited", "message": "wait"}}
    assert probe.Answer(429, error, {}).text == "rate_limited: wait"


def test_sample_curl_targets_generate_through_the_proxy() -> None:
    assert probe.sample_curl("http://127.0.0.1:8080").startswith(
        "curl -s http://127.0.0.1:8080/generate "
    )
    with_key = probe.sample_curl("http://h:1", {"Authorization": "Bearer k"})
    assert ' -H "Authorization: Bearer k" ' in with_key


def test_ask_survives_a_non_json_answer() -> None:
    with answering(200, b"<html>not json</html>") as service:
        answer = probe.ask(service)
    assert answer.status == 200
    assert answer.body["error"]["code"] == "not_json"


def test_ask_without_a_listener_is_a_stack_error() -> None:
    with pytest.raises(ProbeError, match="no answer from"):
        probe.ask(f"http://127.0.0.1:{free_port()}", timeout=2)
