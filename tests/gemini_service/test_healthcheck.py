"""The container HEALTHCHECK probe: exit 0 only for HTTP 200 within two seconds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gemini_service import healthcheck
from gemini_workflow.ports import free_port


def test_healthy_server_exits_zero(fake_gemini: str) -> None:
    assert healthcheck.main([f"{fake_gemini}/health"]) == 0


@pytest.mark.parametrize(
    ("path", "reason"), [("/no-such-path", "HTTP 404"), ("/health", "no answer")]
)
def test_unhealthy_answers_exit_one_with_the_reason(
    fake_gemini: str, capsys: pytest.CaptureFixture[str], path: str, reason: str
) -> None:
    base = fake_gemini if reason == "HTTP 404" else f"http://127.0.0.1:{free_port()}"

    assert healthcheck.main([f"{base}{path}"]) == 1
    assert capsys.readouterr().err.startswith(f"unhealthy: {reason}")


def test_non_http_url_is_refused() -> None:
    assert healthcheck.probe("file:///etc/passwd") == "not an http(s) URL: file:///etc/passwd"


def test_default_url_follows_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")

    assert healthcheck.default_url() == "http://127.0.0.1:8123/health"


def test_runs_as_a_module_with_the_standard_library_only(fake_gemini: str) -> None:
    code = (
        "import sys, runpy; sys.argv = ['healthcheck', sys.argv[1]];"
        "runpy.run_module('gemini_service.healthcheck', run_name='__main__');"
    )
    probe = "import sys; sys.modules['fastapi'] = None; sys.modules['pydantic'] = None;" + code

    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, f"{fake_gemini}/health"],
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
