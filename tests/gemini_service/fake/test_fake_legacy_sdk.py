"""The older google-generativeai SDK reads the fake too (REST transport, http:// endpoint).

It needs the scheme in ``api_endpoint``: without one it assumes https. It streams with
``$alt=json`` (a JSON array, not SSE) and maps HTTP errors to google.api_core exceptions.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # it announces at import that its support has ended
    legacy = pytest.importorskip(
        "google.generativeai", reason="the legacy extra is not installed: uv sync --extra legacy"
    )
from google.api_core import exceptions  # installed with the legacy SDK

NO_RETRY: dict[str, Any] = {"retry": None, "timeout": 5}


@pytest.fixture
def model(fake_gemini: str) -> Any:
    legacy.configure(
        api_key="test-key", transport="rest", client_options={"api_endpoint": fake_gemini}
    )
    return legacy.GenerativeModel("gemini-2.5-flash")


def test_legacy_sdk_parses_an_echo(model: Any) -> None:
    config = {"max_output_tokens": 50, "temperature": 0.5}

    response = model.generate_content(
        "hello legacy", generation_config=config, request_options=NO_RETRY
    )

    assert response.text == "Echo: hello legacy"
    assert response.usage_metadata.prompt_token_count == 2
    assert response.usage_metadata.candidates_token_count == 3


def test_legacy_sdk_streams_the_json_array(model: Any) -> None:
    response = model.generate_content("a b c d e", stream=True, request_options=NO_RETRY)

    assert "".join(chunk.text for chunk in response) == "Echo: a b c d e"


def test_legacy_sdk_sees_bad_key_as_bad_request(model: Any) -> None:
    with pytest.raises(exceptions.BadRequest, match="API key not valid"):
        model.generate_content("[[fault:bad_key]]", request_options=NO_RETRY)


def test_legacy_sdk_sees_quota_as_too_many_requests(model: Any) -> None:
    with pytest.raises(exceptions.TooManyRequests) as caught:
        model.generate_content("[[fault:rate_limit]]", request_options=NO_RETRY)

    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in (
        caught.value.details
    )
