"""Both SDK adapters as host processes: started against the fake, loaded, judged."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gemini_workflow import loadgen
from gemini_workflow.bench import procs
from gemini_workflow.bench.load import app_target
from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import host_sdks
from gemini_workflow.errors import WorkflowError
from tests.gemini_workflow.bench.support import make_run


def test_the_host_app_answers_through_the_fake_whatever_the_shell_sets(
    fake_gemini: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Read before GEMINI_API_KEY, this would stop the service from starting at all.
    monkeypatch.setenv("GEMINI_API_KEY_FILE", "/nonexistent/key")
    with host_sdks.host_app(make_run(tmp_path), fake_gemini, "genai") as server:
        target = app_target(server.url)
        request = urllib.request.Request(  # noqa: S310 - loopback
            server.url + target.path, target.body.encode(), dict(target.headers), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.load(response)
        pid, rss = server.pid, procs.memory_mb(server.pid)

    assert answer["text"]
    assert rss > 10  # MB: a Python process with FastAPI and the SDK loaded
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped with the block


def test_a_host_app_that_cannot_start_fails_at_once_with_its_output(
    fake_gemini: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = make_run(tmp_path)

    failure = r"(?s)exited with 2.*configuration error: GEMINI_SDK"
    with pytest.raises(WorkflowError, match=failure), host_sdks.host_app(run, fake_gemini, "none"):
        pass  # pragma: no cover - never reached

    assert time.monotonic() - started < host_sdks.STARTUP_TIMEOUT / 2


def test_each_sdk_is_loaded_and_its_peak_memory_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def fake_host_app(_run: object, fake: str, sdk: str) -> Iterator[SimpleNamespace]:
        started.append((fake, sdk))
        yield SimpleNamespace(url=f"http://127.0.0.1:9/{sdk}", pid=os.getpid())

    def fake_load(url: str, **kw: Any) -> loadgen.LoadResult:
        ok = 100 if "legacy" in url else 220
        return loadgen.LoadResult(ok, 1.0, {}, {"p50": 1.0}, {200: ok})

    monkeypatch.setattr(host_sdks, "host_app", fake_host_app)
    monkeypatch.setattr(loadgen, "run", fake_load)
    report = Report()

    host_sdks.measure(make_run(tmp_path, runs=2), report, "http://fake:1")

    assert started == [("http://fake:1", "genai"), ("http://fake:1", "legacy")]
    figures = {f.key: f for f in report.figures}
    assert figures["throughput_host_genai"].value.runs == (220.0, 220.0)
    assert figures["throughput_host_genai"].met is True  # 220 >= 85% of 256
    assert figures["throughput_host_legacy"].met is False
    assert figures["throughput_host_legacy"].note.startswith("peak RSS ")
    assert figures["throughput_host_legacy"].note.endswith(" MB")
