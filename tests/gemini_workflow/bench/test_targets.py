"""What each program under test is started as, and the peers answering like the service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gemini_workflow import wait
from gemini_workflow.bench import peers, targets
from gemini_workflow.bench.rounds import rotations
from gemini_workflow.ports import free_port
from tests.gemini_workflow.bench.support import make_run

PYTHON = Path("/venv/bin/python")


def test_the_service_starts_as_the_image_starts_it() -> None:
    assert targets.SERVICE.argv(PYTHON, 8000) == [str(PYTHON), "-m", "gemini_service"]
    env = targets.REST.environment("http://127.0.0.1:9", 8000)
    assert env["GEMINI_SDK"] == "rest"
    assert (env["GEMINI_API_ENDPOINT"], env["PORT"]) == ("http://127.0.0.1:9", "8000")
    assert env["LOG_LEVEL"] == "WARNING"


def test_the_peers_are_files_run_by_the_same_interpreter() -> None:
    assert targets.MINIMAL.argv(PYTHON, 1) == [str(PYTHON), str(peers.MINIMAL)]
    assert targets.RAW.argv(PYTHON, 1) == [str(PYTHON), str(peers.RAW)]
    assert peers.MINIMAL.is_file()
    assert peers.RAW.is_file()


def test_two_workers_start_through_uvicorns_command_line_with_the_same_loop() -> None:
    argv = targets.SERVICE_X2.argv(PYTHON, 8123)

    assert argv[:4] == [str(PYTHON), "-m", "uvicorn", "service_factory:app"]
    assert "--factory" in argv
    assert argv[argv.index("--workers") + 1] == "2"
    assert argv[argv.index("--app-dir") + 1] == str(peers.DIRECTORY)
    assert {"uvloop", "httptools", "8123"} <= set(argv)
    assert (peers.DIRECTORY / "service_factory.py").is_file()


def test_rotations_start_each_round_one_later() -> None:
    assert list(rotations("abc", 4)) == [
        (0, ["a", "b", "c"]),
        (1, ["b", "c", "a"]),
        (2, ["c", "a", "b"]),
        (3, ["a", "b", "c"]),
    ]


@pytest.mark.parametrize("peer", [peers.MINIMAL, peers.RAW])
def test_each_peer_answers_generate_from_the_fake(peer: Path, fake_gemini: str) -> None:
    port = free_port()
    env = {**os.environ, "GEMINI_API_ENDPOINT": fake_gemini, "PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, str(peer)], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        wait.http_ok(f"http://127.0.0.1:{port}/health", timeout=60)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/generate",
            json.dumps({"prompt": "hello peer"}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = json.load(response)
    finally:
        process.terminate()
        process.wait(10)
    assert answer == {"text": "Echo: hello peer"}


def test_serving_starts_the_fake_and_targets_answering_and_stops_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targets.runtime, "python", lambda _run: Path(sys.executable))
    run = make_run(tmp_path)

    with targets.serving(run, [targets.RAW], fake_ms=0) as (fake, servers):
        request = urllib.request.Request(  # noqa: S310 - the target's own http:// URL
            f"{servers[targets.RAW.label].url}/generate",
            json.dumps({"prompt": "hello"}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert json.load(response) == {"text": "Echo: hello"}
        every = [fake, *servers.values()]

    assert [server.process.poll() is not None for server in every] == [True, True]
