"""One real request through the proxy: the proof, after a start, that the whole chain works.

`invoke up` (and, for a swarm, `invoke deploy`) end with it: a healthy container only says
that each piece runs; an answer to /generate says that they reach each other.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from gemini_workflow.errors import WorkflowError

SAMPLE_PROMPT: Final = "Say hello to a newcomer in one short sentence."


class ProbeError(WorkflowError):
    """Nothing answered the request at all (no listener, a reset, a timeout)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def text(self) -> str:
        """The answer's text, or the error message when the service answered with one."""
        if "text" in self.body:
            return str(self.body["text"]).strip()
        error = self.body.get("error") or {}
        return f"{error.get('code', 'error')}: {error.get('message', self.body)}"


def ask(
    url: str,
    prompt: str = SAMPLE_PROMPT,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """POST one prompt to `url`/generate; any HTTP answer is returned, no answer raises."""
    request = urllib.request.Request(  # noqa: S310 (http URL built from our own config)
        f"{url}/generate",
        data=json.dumps({"prompt": prompt}).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Request-ID": f"invoke-probe-{os.getpid()}",
            **(headers or {}),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, _json(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, _json(error.read()), dict(error.headers))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise ProbeError(f"no answer from {url}/generate: {reason}") from None


def sample_curl(url: str, headers: Mapping[str, str] | None = None) -> str:
    """A command a person can paste to call the service the same way.

    Header values go in double quotes, so a `$(head -1 FILE)` in one is run by the shell.
    """
    extra = "".join(f' -H "{name}: {value}"' for name, value in (headers or {}).items())
    return (
        f"curl -s {url}/generate -H 'Content-Type: application/json'{extra} "
        '-d \'{"prompt": "Write a haiku about containers."}\''
    )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"error": {"code": "not_json", "message": raw[:200].decode("utf-8", "replace")}}
    return value if isinstance(value, dict) else {"value": value}
