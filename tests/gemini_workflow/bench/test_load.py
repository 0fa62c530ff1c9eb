"""Load runs against one target, their error notes, and memory sampled meanwhile."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gemini_workflow import loadgen
from gemini_workflow.bench import load
from gemini_workflow.bench.report import Report
from tests.gemini_workflow.bench.support import result


def test_the_fake_target_is_a_request_the_fake_answers(fake_gemini: str) -> None:
    target = load.fake_target(fake_gemini)
    request = urllib.request.Request(  # noqa: S310 - the local fake
        target.url + target.path, target.body.encode(), dict(target.headers), method="POST"
    )

    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer = json.load(response)

    assert response.status == 200
    assert answer["candidates"]


def test_the_app_target_posts_a_prompt_to_generate() -> None:
    target = load.app_target("http://127.0.0.1:1")

    assert (target.path, json.loads(target.body)) == ("/generate", {"prompt": "bench"})
    assert target.headers["Content-Type"] == "application/json"


def test_first_byte_counts_the_fake_s_stream_chunks(fake_gemini: str) -> None:
    ms, events = load.first_byte(load.fake_stream_target(fake_gemini), 3)

    assert events == 8  # STREAM_PROMPT's words, a few a chunk
    assert 0 < ms < 5000


@pytest.fixture
def slow_second_chunk() -> Iterator[str]:
    """A stream whose first chunk comes at once and whose second comes 0.5 s later."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(2 * len(b"data: x\n\n")))
            self.end_headers()
            self.wfile.write(b"data: x\n\n")
            self.wfile.flush()
            time.sleep(0.5)
            self.wfile.write(b"data: x\n\n")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_first_byte_stops_the_clock_at_the_first_chunk_not_the_last(
    slow_second_chunk: str,
) -> None:
    ms, events = load.first_byte(load.app_stream_target(slow_second_chunk), 2)

    assert ms < 400  # the whole answer takes 500 ms
    assert events == 2


@pytest.fixture
def wrk_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(url: str, **kwargs: Any) -> loadgen.LoadResult:
        calls.append({"url": url, **kwargs})
        return result(1.0, 2.0)

    monkeypatch.setattr(loadgen, "run", run)
    return calls


def test_a_latency_run_is_one_connection(wrk_calls: list[dict[str, Any]]) -> None:
    load.latency_run(load.app_target("http://h:1"), 4.0)

    (call,) = wrk_calls
    assert call["url"] == "http://h:1/generate"
    assert (call["connections"], call["threads"], call["duration_s"]) == (1, 1, 4.0)
    assert (call["method"], call["body"]) == ("POST", '{"prompt": "bench"}')


def test_a_throughput_run_is_concurrency_clients(wrk_calls: list[dict[str, Any]]) -> None:
    load.throughput_run(load.fake_target("http://h:2"), 10.0)

    (call,) = wrk_calls
    assert call["connections"] == load.CONCURRENCY == 128
    assert call["headers"]["x-goog-api-key"] == load.BENCH_KEY
    assert load.IDEAL_RATE == 256  # 128 clients, an answer every 500 ms each


def test_ok_rate_counts_2xx_answers_only() -> None:
    assert load.ok_rate(result(1, 2, requests=100, ok=70)) == 70.0
    assert load.ok_rate(loadgen.LoadResult(0, 0.0, {}, {}, {})) == 0.0


def test_check_notes_failed_requests_only() -> None:
    report = Report()

    load.check(result(1, 2), "clean", report)
    load.check(result(1, 2, requests=10, ok=7), "faulty", report)
    sockets = loadgen.LoadResult(5, 1.0, {"connect": 2, "status": 0}, {}, {200: 5})
    load.check(sockets, "refused", report)

    assert report.notes[0].startswith("faulty: 3 non-2xx of 10, 0 socket errors")
    assert report.notes[1].startswith("refused: 0 non-2xx of 5, 2 socket errors")
    assert len(report.notes) == 2


def test_peak_rss_keeps_the_highest_sample_and_skips_failed_ones() -> None:
    values = iter([10, 50, 20])
    done = threading.Event()

    def sample() -> int:
        value = next(values, None)
        if value is None:
            done.set()
            raise ProcessLookupError("gone")  # a sample that fails must not end the run
        return value

    with load.peak_rss(sample, interval=0.01) as peak:
        assert done.wait(5)

    assert peak == [50]
