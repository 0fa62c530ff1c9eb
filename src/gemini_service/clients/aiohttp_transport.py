"""What the aiohttp-based adapters share: their connection pool and how its failures read.

google-genai sends through aiohttp (see genai.py) and the optional REST adapter uses aiohttp
directly (rest.py); both get their session here and translate aiohttp's exceptions alike.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from gemini_service.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable


def open_session() -> aiohttp.ClientSession:
    """The connection pool for every call: unbounded, like google-genai's own.

    `trust_env` only when a proxy is configured (HTTPS_PROXY and friends), as found when the
    session opens: with it, aiohttp looks up ~/.netrc and the proxy variables again on every
    request, in worker threads, which cost about a quarter of the CPU of a call (measured).
    Without a proxy the lookups can only find netrc credentials, which an API key never needs.
    A session needs the running event loop, so adapters open it at startup, not at import.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        trust_env=bool(urllib.request.getproxies()),
    )


@contextmanager
def translated_transport_errors() -> Iterator[None]:
    """aiohttp's (and JSON's) exceptions as domain errors; domain errors pass through."""
    try:
        yield
    except TimeoutError as exc:  # aiohttp's own timeouts (the deadline cancels, it never raises)
        raise UpstreamTimeout() from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        raise UpstreamUnavailable() from exc  # refused, reset, closed early, DNS, cut short
    except (aiohttp.ClientError, ValueError) as exc:  # not HTTP, not JSON, not a response
        raise UpstreamError() from exc
