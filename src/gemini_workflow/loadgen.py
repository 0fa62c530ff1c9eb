"""Drive HTTP load with wrk, Debian's maintained C load generator, and read back its figures.

wrk is used rather than a Python client because on a 2-core machine the load generator
competes with the service for CPU: a generator in C costs a fraction of what an asyncio
client would, so the figures describe the service and not the client. wrk sends a POST
body only through a Lua script; the script also counts status codes and prints one JSON
line at the end, so nothing depends on parsing wrk's human-readable report.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RESULT_MARKER = "WRK_RESULT "

# Safety net against a runaway run: wrk stops each thread after this many responses even
# if the duration has not elapsed (the duration is the real bound).
DEFAULT_MAX_REQUESTS = 200_000

_SCRIPT = """\
wrk.method = {method}
wrk.body = {body}
{headers}
local threads = {{}}
local per_thread_limit = {per_thread_limit}
statuses = {{}}
responses = 0

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  responses = responses + 1
  if responses >= per_thread_limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total = {{}}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
  end
  local codes = {{}}
  for code, count in pairs(total) do
    table.insert(codes, string.format('"%s":%d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}},' ..
    '"latency_us":{{"p50":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f,"mean":%.1f}},' ..
    '"statuses":{{%s}}}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(codes, ",")))
end
"""


class LoadgenError(RuntimeError):
    """wrk is missing, failed, or printed no result."""


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured: counts, rate, latency percentiles, status codes."""

    requests: int
    duration_s: float
    errors: Mapping[str, int]
    latency_ms: Mapping[str, float]
    statuses: Mapping[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def socket_errors(self) -> int:
        """Connection-level failures: the client never got an HTTP answer."""
        return sum(v for k, v in self.errors.items() if k != "status")

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)


def lua_string(text: str) -> str:
    """Quote text as a Lua long string, choosing a level the text cannot close early."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def render_script(
    *,
    method: str,
    body: str | None,
    headers: Mapping[str, str],
    per_thread_limit: int,
) -> str:
    """The Lua script that makes wrk send this request and report JSON."""
    header_lines = "\n".join(
        f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}"
        for name, value in headers.items()
    )
    return _SCRIPT.format(
        method=lua_string(method),
        body=lua_string(body) if body is not None else "nil",
        headers=header_lines,
        per_thread_limit=per_thread_limit,
        marker=RESULT_MARKER,
    )


def parse_output(stdout: str) -> LoadResult:
    """Read the JSON line the script printed (wrk's own report is ignored)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            data = json.loads(line.removeprefix(RESULT_MARKER))
            break
    else:
        raise LoadgenError(f"wrk printed no result line; its output was:\n{stdout[-2000:]}")
    return LoadResult(
        requests=int(data["requests"]),
        duration_s=int(data["duration_us"]) / 1e6,
        errors={k: int(v) for k, v in data["errors"].items()},
        latency_ms={k: float(v) / 1000 for k, v in data["latency_us"].items()},
        statuses={int(k): int(v) for k, v in data["statuses"].items()},
    )


def find_wrk() -> str | None:
    return shutil.which("wrk")


def ensure_wrk() -> str:
    """wrk's path, or an error saying how to install it (the project's setup does)."""
    path = find_wrk()
    if not path:
        raise LoadgenError(
            "wrk (the load generator) is not installed: run `invoke bootstrap --test-tools`"
            " (root on Debian/Ubuntu), or install it with your package manager"
        )
    return path


def run(
    url: str,
    *,
    connections: int,
    duration_s: float,
    method: str = "GET",
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    threads: int | None = None,
    timeout_s: float = 10.0,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    wrk: str | None = None,
) -> LoadResult:
    """Run wrk with closed-loop clients: each connection sends its next request on an answer.

    Bounded twice: by the duration, and by max_requests (spread over wrk's threads).
    """
    threads = threads or min(connections, 2)
    script = render_script(
        method=method,
        body=body,
        headers=headers or {},
        per_thread_limit=max(1, math.ceil(max_requests / threads)),
    )
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        script_path = Path(tmp) / "load.lua"
        script_path.write_text(script)
        command = [
            wrk or ensure_wrk(),
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(duration_s))}s",
            f"--timeout={max(1, round(timeout_s))}s",
            f"--script={script_path}",
            url,
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=duration_s + timeout_s + 30,
        )
    if done.returncode != 0:
        raise LoadgenError(f"wrk exited {done.returncode}: {done.stderr.strip()[-1000:]}")
    return parse_output(done.stdout + done.stderr)
