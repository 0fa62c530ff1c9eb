"""wrk wrapper: the Lua script it writes, the result line it reads, and how it calls wrk."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gemini_workflow import loadgen

RESULT = {
    "requests": 2560,
    "duration_us": 10_000_000,
    "bytes": 1,
    "errors": {"connect": 0, "read": 1, "write": 0, "status": 10, "timeout": 2},
    "latency_us": {"p50": 500_100.0, "p90": 501_000.0, "p99": 510_000.0, "max": 1.0, "mean": 1.0},
    "statuses": {"200": 2550, "503": 10},
}


def test_lua_string_cannot_be_closed_early_by_its_content() -> None:
    assert loadgen.lua_string("plain") == "[[plain]]"
    assert loadgen.lua_string('{"a": "]]"}') == '[=[{"a": "]]"}]=]'
    assert loadgen.lua_string("]]]=]") == "[==[]]]=]]==]"


def test_script_sets_method_body_headers_and_the_per_thread_bound() -> None:
    script = loadgen.render_script(
        method="POST",
        body='{"prompt": "x"}',
        headers={"Content-Type": "application/json"},
        per_thread_limit=7,
    )

    assert "wrk.method = [[POST]]" in script
    assert 'wrk.body = [[{"prompt": "x"}]]' in script
    # A space after `[`: `wrk.headers[[[` would open a Lua long string.
    assert "wrk.headers[ [[Content-Type]] ] = [[application/json]]" in script
    assert "local per_thread_limit = 7" in script
    assert loadgen.RESULT_MARKER in script


def test_script_without_body_leaves_it_nil() -> None:
    script = loadgen.render_script(method="GET", body=None, headers={}, per_thread_limit=1)

    assert "wrk.body = nil" in script


def test_parse_output_reads_the_marked_line_and_converts_units() -> None:
    stdout = "Running 10s test\n" + loadgen.RESULT_MARKER + json.dumps(RESULT) + "\n"

    result = loadgen.parse_output(stdout)

    assert result.requests == 2560
    assert result.duration_s == 10.0
    assert result.rps == 256.0
    assert result.latency_ms["p50"] == pytest.approx(500.1)
    assert result.statuses == {200: 2550, 503: 10}
    assert result.ok == 2550
    assert result.socket_errors == 3  # read + timeout; non-2xx statuses are not socket errors


def test_parse_output_without_a_result_says_what_wrk_printed() -> None:
    with pytest.raises(loadgen.LoadgenError, match="no result line"):
        loadgen.parse_output("/tmp/load.lua: syntax error")


def test_rps_of_an_empty_run_is_zero() -> None:
    empty = loadgen.LoadResult(0, 0.0, {}, {}, {})

    assert empty.rps == 0.0


def fake_wrk(tmp_path: Path, body: str, exit_code: int = 0) -> Path:
    """An executable standing in for wrk: records its arguments and script, prints `body`."""
    path = tmp_path / "wrk"
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/args\n'
        'for a in "$@"; do case $a in --script=*) cp "${a#--script=}" '
        f"{tmp_path}/script.lua;; esac; done\n"
        f"cat <<'EOF'\n{body}\nEOF\n"
        f"exit {exit_code}\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_run_passes_bounds_to_wrk_and_returns_its_result(tmp_path: Path) -> None:
    wrk = fake_wrk(tmp_path, loadgen.RESULT_MARKER + json.dumps(RESULT))

    result = loadgen.run(
        "http://127.0.0.1:1/generate",
        connections=128,
        duration_s=10,
        method="POST",
        body="{}",
        max_requests=1000,
        wrk=str(wrk),
    )

    args = (tmp_path / "args").read_text().split()
    assert "--connections=128" in args
    assert "--threads=2" in args
    assert "--duration=10s" in args
    assert args[-1] == "http://127.0.0.1:1/generate"
    assert "local per_thread_limit = 500" in (tmp_path / "script.lua").read_text()
    assert result.requests == 2560


def test_run_reports_a_failing_wrk(tmp_path: Path) -> None:
    wrk = fake_wrk(tmp_path, "unable to connect", exit_code=1)

    with pytest.raises(loadgen.LoadgenError, match="exited 1"):
        loadgen.run("http://127.0.0.1:1/", connections=1, duration_s=1, wrk=str(wrk))


def test_ensure_wrk_returns_the_installed_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen, "find_wrk", lambda: "/usr/bin/wrk")

    assert loadgen.ensure_wrk() == "/usr/bin/wrk"


def test_a_missing_wrk_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen, "find_wrk", lambda: None)

    with pytest.raises(loadgen.LoadgenError, match=r"invoke bootstrap --test-tools"):
        loadgen.ensure_wrk()
