"""``python -m gemini_service.fake``: serve the fake Gemini with uvicorn.

uvicorn handles SIGTERM and SIGINT itself (stop accepting, finish in-flight requests); the grace
period is bounded so a ``hang`` in progress cannot keep a container from stopping.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import uvicorn

from gemini_service.fake.config import ConfigError, FakeConfig
from gemini_service.fake.faults import CATALOGUE
from gemini_service.fake.server import create_app

DEFAULT_PORT = 8001
SHUTDOWN_GRACE_SECONDS = 3


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gemini_service.fake",
        description="Serve a fake Gemini API (configure faults with FAKE_GEMINI_* variables).",
    )
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")  # noqa: S104 - a container must listen beyond loopback
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", DEFAULT_PORT)),
        help=f"port to listen on (default $PORT, else {DEFAULT_PORT})",
    )
    parser.add_argument("--list-faults", action="store_true", help="print the fault names and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_faults:
        for fault in CATALOGUE.values():
            print(f"{fault.name:18} {fault.summary}")
        return 0
    try:
        config = FakeConfig.from_env()
    except ConfigError as error:
        print(f"fake-gemini: {error}", file=sys.stderr)
        return 2
    level = os.environ.get("LOG_LEVEL", "INFO").lower()
    logging.basicConfig(level=level.upper())
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=level,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
