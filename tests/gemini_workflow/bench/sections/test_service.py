"""Issue 11 goals 2, 3 and 6 in containers: each hop's latency, streaming and throughput."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import docker_engine, loadgen
from gemini_workflow.bench.report import MB, Report
from gemini_workflow.bench.sections import host_sdks, service
from tests.gemini_workflow.bench.support import IMAGES, SETUP, make_run, result


def test_latency_figures_subtract_the_fake_run_by_run() -> None:
    report = Report()
    lat = {
        "fake": [result(1.0, 2.0), result(1.2, 3.0)],
        "app": [result(2.8, 9.0), result(3.1, 9.0)],
        "proxy": [result(5.0, 12.0), result(9.2, 13.0)],
    }

    service.add_latency_figures(report, lat)

    figures = {f.key: f for f in report.figures}
    assert figures["added_latency_app_p50"].value.runs == pytest.approx((1.8, 1.9))
    assert figures["added_latency_app_p50"].met is True  # under 2 ms direct
    assert figures["added_latency_proxy_p50"].value.runs == pytest.approx((4.0, 8.0))
    assert figures["added_latency_proxy_p50"].met is False
    assert figures["added_latency_app_p99"].met is None
    assert figures["added_latency_proxy_p99"].value.runs == (10.0, 10.0)


def test_throughput_figures_are_judged_against_the_ideal_rate() -> None:
    report = Report()

    service.add_throughput_figures(
        report, {"fake": [250.0], "app": [230.0, 220.0], "proxy": [150.0]}, [120.0, 130.0], 70.0
    )

    figures = {f.key: f for f in report.figures}
    assert figures["throughput_app"].reference is not None
    assert figures["throughput_app"].reference.median == 256.0
    assert figures["throughput_app"].met is True  # 225 >= 85% of 256
    assert figures["throughput_proxy"].met is False  # 150 < 85% of 256
    assert figures["throughput_fake"].met is None
    assert figures["app_rss_under_load"].value.median == 125.0
    assert [f.key for f in report.figures] == [
        "throughput_fake",
        "throughput_app",
        "throughput_proxy",
        "app_rss_under_load",
    ]


class FakeStack:
    proxy_url = "http://127.0.0.1:3"

    def url(self, service_name: str, _port: int) -> str:
        return "http://127.0.0.1:1" if service_name == "fake-gemini" else "http://127.0.0.1:2"

    def container(self, _service: str) -> object:
        return object()


@pytest.fixture
def section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The service section on a stand-in stack and load generator; what it did, recorded."""
    seen: dict[str, Any] = {"loads": [], "envs": [], "rss_samples": 0, "host": [], "streams": []}

    def fake_load(url: str, **kw: Any) -> loadgen.LoadResult:
        seen["loads"].append((url, kw["connections"]))
        if kw["connections"] == 1:
            return result(1.0 if ":1/" in url else 3.0, 5.0)
        return loadgen.LoadResult(2300, 10.0, {}, {"p50": 500.0}, {200: 2300})

    def rss(_container: object) -> int:
        seen["rss_samples"] += 1
        return 100 * MB

    run = make_run(tmp_path, runs=2)

    @contextlib.contextmanager
    def stack(what: str, images: object, env: dict[str, str]) -> Iterator[FakeStack]:
        seen["envs"].append(env)
        try:
            yield FakeStack()
        finally:
            seen["stopped"] = True

    def restart(_stack: object, env: dict[str, str]) -> FakeStack:
        seen["envs"].append(env)
        return FakeStack()

    def host(_run: object, _report: Report, fake: str) -> None:
        seen["host"].append(fake)

    def first_byte(target: Any, _samples: int) -> tuple[float, int]:
        seen["streams"].append(target.url)
        return (4.5 if target.url.endswith(":3") else 1.5), 8

    monkeypatch.setattr(service, "first_byte", first_byte)
    monkeypatch.setattr(service.loadgen, "ensure_wrk", lambda: "wrk")
    monkeypatch.setattr(service.loadgen, "run", fake_load)
    monkeypatch.setattr(service, "build_setup", lambda _root: SETUP)
    monkeypatch.setattr(service, "stack_images", lambda _run, _setup: IMAGES)
    monkeypatch.setattr(docker_engine, "container_rss", rss)
    monkeypatch.setattr(host_sdks, "measure", host)
    monkeypatch.setattr(run, "stack", stack)
    monkeypatch.setattr(run, "restart_stack", restart)
    seen["run"] = run
    return seen


def test_service_section_measures_every_hop_on_one_stack(section: dict[str, Any]) -> None:
    report = Report()

    service.measure(section["run"], report)

    figures = {f.key: f for f in report.figures}
    assert figures["added_latency_app_p50"].value.median == 2.0
    assert figures["throughput_app"].value.median == 230.0
    assert figures["app_rss_under_load"].value.median == 100.0
    assert figures["stream_ttfb_added_proxy"].value.runs == (3.0, 3.0)  # proxy minus fake
    assert set(section["streams"]) == {"http://127.0.0.1:1", "http://127.0.0.1:3"}
    assert [env["FAKE_GEMINI_LATENCY_MS"] for env in section["envs"]] == ["0", "500"]
    assert section["stopped"] is True
    assert section["host"] == ["http://127.0.0.1:1"]  # both SDKs against the slow fake
    loaded = [url.split("/")[2] for url, connections in section["loads"] if connections == 128]
    assert loaded == ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"] * 2  # fake, app, proxy


def test_memory_is_sampled_only_while_the_app_is_loaded(section: dict[str, Any]) -> None:
    service.measure(section["run"], Report())

    assert section["rss_samples"] == 1 + 2  # idle, then once per app run (runs=2)


def test_a_failure_of_the_host_part_keeps_the_container_figures(
    section: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("legacy extra missing")

    monkeypatch.setattr(host_sdks, "measure", broken)
    report = Report()

    with pytest.raises(RuntimeError, match="legacy extra"):
        service.measure(section["run"], report)

    assert "throughput_proxy" in {f.key for f in report.figures}
    assert section["stopped"] is True
