"""Structured logs: one JSON object per line, so log pipelines need no parsing rules.

The request log carries sizes and statuses, never prompt text; the formatter also scrubs any
configured secret from every line, as a last line of defence should one reach a log call.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

ACCESS_LOGGER: Final = "gemini_service.access"
REDACTED: Final = "[redacted]"
# Libraries that log every HTTP call at INFO; the request log line already covers those calls.
CHATTY_LOGGERS: Final = ("httpx", "httpx2", "httpcore", "httpcore2", "google_genai", "urllib3")


class JsonFormatter(logging.Formatter):
    """Render records as JSON lines; structured data comes from `extra={"fields": {...}}`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._scrub(json.dumps(entry, default=str))

    def _scrub(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return line


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Send every logger's records, uvicorn's included, to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY_LOGGERS:  # their per-call lines are wanted only when debugging
        logging.getLogger(name).setLevel(logging.WARNING if root.level > logging.DEBUG else 0)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def log_request(**fields: Any) -> None:
    """Emit the one line per request: id, method, path, status, latency and upstream facts."""
    logging.getLogger(ACCESS_LOGGER).info("request", extra={"fields": fields})
