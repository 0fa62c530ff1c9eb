"""`python -m gemini_service.healthcheck [URL]`: the container HEALTHCHECK probe.

Standard library only, so it works in any image that has Python (no curl needed): exit 0 when
URL answers HTTP 200 within two seconds, else 1 with the reason on stderr, which Docker keeps
in the container's health log.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Final

TIMEOUT_SECONDS: Final = 2.0


def default_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health"


def probe(url: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when healthy, otherwise why not."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url}"
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
            status = response.status
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} from {url}"
    except (OSError, ValueError) as error:
        return f"no answer from {url}: {error}"
    elapsed = time.monotonic() - started
    if elapsed > timeout:
        return f"{url} took {elapsed:.1f} s (limit {timeout:.0f} s)"
    return None if status == 200 else f"HTTP {status} from {url}"


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    problem = probe(args[0] if args else default_url())
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
