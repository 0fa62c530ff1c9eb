"""Hostile requests get a 4xx in the documented error shape, and the service shrugs them off.

Sent through api-proxy (the only door in production), a few straight to the app where the
proxy would otherwise stop them first. Then schemathesis fuzzes the service's own OpenAPI.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gemini_workflow.stack_up import RunningStack
from tests.reliability.traffic import Call, Outcome, error_shape_problem

JSON = {"Content-Type": "application/json"}
MB = 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    """One hostile request: an httpx call, or raw bytes for what no client library sends."""

    name: str
    call: Call | None = None
    raw: bytes | None = None
    target: str = "proxy"
    extra_headers: dict[str, str] = field(default_factory=dict)


def body(name: str, data: bytes | str, headers: dict[str, str] | None = None) -> Hostile:
    raw = data.encode() if isinstance(data, str) else data
    return Hostile(name, Call("POST", "/generate", raw, JSON if headers is None else headers))


def fields(name: str, document: object) -> Hostile:
    return body(name, json.dumps(document))


def raw(name: str, request: str) -> Hostile:
    return Hostile(name, raw=request.encode("latin-1"))


NESTED_ARRAYS = '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}"
NESTED_OBJECTS = '{"prompt": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
HUGE_INT = '{"prompt": "x", "max_output_tokens": ' + "9" * 5_000 + "}"

CASES = [
    # Wrong or missing content type
    body("text/plain", "hello", {"Content-Type": "text/plain"}),
    body("no content type", '{"prompt": "x"}', {}),
    body("xml", "<prompt>x</prompt>", {"Content-Type": "application/xml"}),
    body("form", "prompt=x", {"Content-Type": "application/x-www-form-urlencoded"}),
    body(
        "multipart",
        '--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--b--\r\n',
        {"Content-Type": "multipart/form-data; boundary=b"},
    ),
    # Broken encodings and bytes
    body("invalid UTF-8", b'{"prompt": "\xff\xfe\xc3\x28"}'),
    body(
        "latin-1 declared",
        b'{"prompt": "caf\xe9"}',
        {"Content-Type": "application/json; charset=latin-1"},
    ),
    body("raw NUL bytes", b'{"prompt": "a\x00b"}\x00\x00'),
    body("NUL in a field name", '{"pro\\u0000mpt": "x"}'),
    body("lone surrogate", '{"prompt": "\\ud800"}'),
    body("UTF-8 BOM then garbage", b"\xef\xbb\xbf{prompt: x}"),
    # Size
    body("10 MB body", b'{"prompt": "' + b"a" * (10 * MB) + b'"}'),
    Hostile(
        "2 MB body straight to the app",
        Call("POST", "/generate", b'{"prompt": "' + b"a" * (2 * MB) + b'"}', JSON),
        target="app",
    ),
    fields("prompt over the character limit", {"prompt": "a" * 40_000}),
    # Structure
    body("deeply nested arrays", NESTED_ARRAYS),
    body("deeply nested objects", NESTED_OBJECTS),
    body("empty body", ""),
    body("truncated JSON", '{"prompt": "x"'),
    fields("top-level array", ["prompt", "x"]),
    fields("top-level string", "prompt"),
    fields("top-level null", None),
    fields("prompt is a number", {"prompt": 42}),
    fields("prompt is null", {"prompt": None}),
    fields("prompt is empty", {"prompt": ""}),
    fields("prompt is blank", {"prompt": " \t\n "}),
    fields("unknown field", {"prompt": "x", "admin": True}),
    # Numbers
    body("NaN", '{"prompt": "x", "temperature": NaN}'),
    body("Infinity", '{"prompt": "x", "temperature": Infinity}'),
    body("-Infinity", '{"prompt": "x", "temperature": -Infinity}'),
    body("1e400", '{"prompt": "x", "temperature": 1e400}'),
    body("5000-digit integer", HUGE_INT),
    fields("negative temperature", {"prompt": "x", "temperature": -1}),
    fields("temperature as text", {"prompt": "x", "temperature": "hot"}),
    fields("zero output tokens", {"prompt": "x", "max_output_tokens": 0}),
    fields("a billion output tokens", {"prompt": "x", "max_output_tokens": 10**9}),
    fields("fractional output tokens", {"prompt": "x", "max_output_tokens": 1.5}),
    # Headers and request line
    Hostile(
        "header flood (1000 headers)",
        Call("POST", "/generate", b'{"prompt": "x"}', JSON),
        extra_headers={f"x-flood-{i}": "y" * 40 for i in range(1000)},
    ),
    Hostile(
        "one 64 KB header",
        Call("POST", "/generate", b'{"prompt": "x"}', JSON),
        extra_headers={"x-huge": "h" * 65_536},
    ),
    Hostile("20 KB URL", Call("POST", "/generate?" + "q" * 20_000, b'{"prompt": "x"}', JSON)),
    raw("path traversal", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"),
    raw(
        "invalid chunk size",
        "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ),
    raw(
        "non-numeric Content-Length",
        "POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    ),
    # Methods and paths
    Hostile("GET on /generate", Call("GET", "/generate")),
    Hostile("DELETE on /generate", Call("DELETE", "/generate")),
    Hostile("unknown path", Call("GET", "/admin/../../secrets")),
    Hostile("stream with an invalid body", Call("POST", "/generate/stream", b"{}", JSON)),
]


def send_raw(port: int, request: bytes) -> Outcome:
    """Bytes no HTTP library would send; read whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        content = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    return Outcome(Call("RAW", "", request), 0, 0, response.status, content, headers)


def send(stack: RunningStack, case: Hostile) -> Outcome:
    if case.raw is not None:
        return send_raw(stack.plan.port, case.raw)
    assert case.call is not None
    base = stack.url("gemini-app", 8000) if case.target == "app" else stack.proxy_url
    with httpx.Client(base_url=base, timeout=30) as client:
        response = client.request(
            case.call.method,
            case.call.path,
            content=case.call.body,
            headers={**case.call.headers, **case.extra_headers},
        )
    return Outcome(
        case.call,
        0,
        0,
        response.status_code,
        response.content,
        {k.lower(): v for k, v in response.headers.items()},
    )


def assert_healthy(stack: RunningStack) -> None:
    with httpx.Client(base_url=stack.proxy_url, timeout=30) as client:
        assert client.get("/health").status_code == 200
        answer = client.post("/generate", json={"prompt": "still there?"})
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request_gets_4xx_in_the_error_shape(
    clean_stack: RunningStack, case: Hostile
) -> None:
    outcome = send(clean_stack, case)

    assert outcome.status is not None
    assert 400 <= outcome.status < 500, f"{case.name}: {outcome.status} {outcome.text[:300]!r}"
    assert error_shape_problem(outcome) == "", f"{case.name}: {error_shape_problem(outcome)}"


def test_service_stays_healthy_after_the_hostile_requests(clean_stack: RunningStack) -> None:
    for case in CASES:
        send(clean_stack, case)
    assert_healthy(clean_stack)
    app = clean_stack.container("gemini-app")
    assert app.attrs["RestartCount"] == 0


def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    clean_stack: RunningStack, tmp_path: Path
) -> None:
    st = shutil.which("st") or shutil.which("schemathesis")
    assert st, "schemathesis is not installed: run the suite with `nox -s reliability`"
    app = clean_stack.url("gemini-app", 8000)
    done = subprocess.run(
        [
            st,
            "--no-color",
            "run",
            f"{app}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,"
            "content_type_conformance",
            "--max-examples",
            "40",
            "--max-time",
            "90",
            "--seed",
            "6",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        cwd=tmp_path,  # schemathesis keeps its state in ./.schemathesis
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert_healthy(clean_stack)
