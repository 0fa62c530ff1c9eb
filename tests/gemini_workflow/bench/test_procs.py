"""Host processes: started through the run, stopped by it, measured from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemini_workflow.bench import procs
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port
from tests.gemini_workflow.bench.support import make_run

HEALTHY_SERVER = """
import http.server, os, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def test_stat_cpu_seconds_reads_user_and_system_after_the_command_name() -> None:
    # The command name may hold spaces and parentheses; fields 14 and 15 are utime, stime.
    ticks = os.sysconf("SC_CLK_TCK")
    stat = f"42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 {3 * ticks} {ticks} 0 0 20 0 1"

    assert procs.stat_cpu_seconds(stat) == pytest.approx(4.0)


def test_status_kb_reads_one_line() -> None:
    status = "Name:\tpython\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"

    assert procs.status_kb(status, "VmRSS") == 1024
    assert procs.status_kb(status, "VmHWM") == 2048
    assert procs.status_kb(status, "VmSwap") == 0


def test_this_process_has_cpu_time_memory_and_is_in_its_own_tree() -> None:
    assert procs.tree_pids(os.getpid())[0] == os.getpid()
    assert procs.cpu_seconds(os.getpid()) > 0
    assert procs.memory_mb(os.getpid()) > 10
    assert procs.memory_mb(os.getpid(), "VmHWM") >= procs.memory_mb(os.getpid())


def test_the_callers_gemini_settings_never_reach_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "a-real-key")
    monkeypatch.setenv("FAKE_GEMINI_FAULT", "slow")

    env = procs.clean_environment({"PORT": "1"})

    assert "GEMINI_API_KEY" not in env
    assert "FAKE_GEMINI_FAULT" not in env
    assert env["PORT"] == "1"
    assert env["PATH"] == os.environ["PATH"]


def test_a_started_server_is_waited_for_and_stopped_by_the_runs_close(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    port = free_port()
    server = procs.start(
        run, "tiny", [sys.executable, "-c", HEALTHY_SERVER], {"PORT": str(port)}, port
    )

    seconds = procs.wait_health(server, timeout=30)
    run.close()

    assert 0 < seconds < 30
    assert server.process.poll() is not None  # stopped by the close
    assert not run.leftovers


def test_a_server_that_exits_fails_the_wait_at_once_with_its_output(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    port = free_port()
    argv = [sys.executable, "-c", "import sys; print('no such setting'); sys.exit(2)"]
    server = procs.start(run, "broken", argv, {}, port)

    with pytest.raises(WorkflowError, match="broken exited with 2:\nno such setting"):
        procs.wait_health(server, timeout=30)
    server.stop()
    run.close()


def test_memory_sees_what_a_process_holds() -> None:
    holding = "import sys; data = b'x' * 64_000_000; print('ready', flush=True); sys.stdin.read()"
    small = "import sys; print('ready', flush=True); sys.stdin.read()"
    sizes = []
    for code in (small, holding):
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
            sizes.append(procs.memory_mb(process.pid))
        finally:
            process.communicate("")

    assert sizes[1] - sizes[0] > 60  # MB
