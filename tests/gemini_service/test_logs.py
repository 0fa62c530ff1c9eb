"""JSON log lines: structure, exceptions, and scrubbing of configured secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from gemini_service.logs import CHATTY_LOGGERS, JsonFormatter, configure_logging, log_request


def record(message: str, **fields: object) -> logging.LogRecord:
    entry = logging.LogRecord("test", logging.INFO, __file__, 1, message, (), None)
    entry.fields = fields
    return entry


def test_line_is_json_with_level_logger_message_and_fields() -> None:
    line = JsonFormatter().format(record("hello %s", status=200))

    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "test", "hello %s")
    assert entry["status"] == 200
    assert entry["time"].endswith("+00:00")


def test_exception_is_kept_inside_the_one_line() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        entry = logging.LogRecord("t", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())

    line = JsonFormatter().format(entry)

    assert "\n" not in line
    assert "ValueError: bad" in json.loads(line)["exception"]


def test_configured_secrets_are_scrubbed_everywhere() -> None:
    formatter = JsonFormatter(secrets=["s3cr3t-key"])

    line = formatter.format(record("key is s3cr3t-key", header="x-goog-api-key: s3cr3t-key"))

    assert "s3cr3t-key" not in line
    assert line.count("[redacted]") == 2


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_writes_json_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdout", stdout)

    configure_logging("INFO", secrets=["k3y"])
    log_request(request_id="r1", status=200, note="k3y")

    entry = json.loads(stdout.getvalue())
    assert entry["logger"] == "gemini_service.access"
    assert (entry["request_id"], entry["status"], entry["note"]) == ("r1", 200, "[redacted]")
    assert all(logging.getLogger(n).level == logging.WARNING for n in CHATTY_LOGGERS)


@pytest.mark.usefixtures("restore_logging")
def test_debug_level_lets_the_http_client_log() -> None:
    configure_logging("DEBUG")

    assert logging.getLogger("httpx2").getEffectiveLevel() == logging.DEBUG
