"""`python -m gemini_service` in-process: how uvicorn is started, and the config failure."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from gemini_service import __main__ as entry


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


def test_serves_on_all_interfaces_at_port_with_bounded_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda app, **options: calls.append(options))
    monkeypatch.setattr(entry, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("GEMINI_TIMEOUT_SECONDS", "2.5")
    monkeypatch.chdir("/")  # no .env file

    assert entry.main() == 0

    options = calls[0]
    assert (options["host"], options["port"]) == (entry.HOST, 8123)
    assert entry.HOST == "0.0.0.0"  # noqa: S104 - a container must be reachable
    assert options["timeout_graceful_shutdown"] == 4  # the deadline, rounded up, plus 1 s
    assert options["log_config"] is None
    assert options["access_log"] is False
    assert gc.get_threshold() == entry.GC_THRESHOLDS


def test_configuration_error_exits_2_before_serving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entry.uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    monkeypatch.chdir("/")

    assert entry.main() == entry.EXIT_CONFIG_ERROR
    assert "GEMINI_API_KEY is not set" in capsys.readouterr().err
