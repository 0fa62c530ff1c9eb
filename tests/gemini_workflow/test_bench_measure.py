"""The bench's measurements, with the engine replaced where a real one would only add time.

What talks to Docker is exercised by `nox -s bench` itself; here each section's bookkeeping
(which figure, which reference, which goal) and the helpers' parsing are checked.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import tarfile
import threading
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gemini_workflow import bench, bench_measure, loadgen
from gemini_workflow.bench_measure import BuildSetup

SETUP = BuildSetup(
    python_base="base:1",
    proxy_image="nginx:1",
    args={"PYTHON_BASE": "base:1", "INDEX_OPTIONS": "--no-index --find-links /wheels"},
    network_none=True,
)
QUIET = Console(file=io.StringIO())


def args(**overrides: Any) -> Namespace:
    values = {"runs": 2, "load_seconds": 1.0, "latency_seconds": 1.0}
    return Namespace(**{**values, **overrides})


def result(p50: float, p99: float, requests: int = 100, ok: int = 100) -> loadgen.LoadResult:
    statuses = {200: ok} if ok == requests else {200: ok, 503: requests - ok}
    return loadgen.LoadResult(
        requests, 1.0, {"connect": 0, "read": 0}, {"p50": p50, "p99": p99}, statuses
    )


# ------------------------------------------------------------------------ helpers


def test_tags_are_named_after_the_run_and_removed_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    removed: list[list[str]] = []
    monkeypatch.setattr(bench_measure.subprocess, "run", lambda cmd, **_: removed.append(cmd))
    tags = bench_measure.Tags()

    tag = tags.new("cold0")
    tags.remove_all()

    assert tag == f"gemini-bench:{bench_measure.RUN_ID}-cold0"
    assert removed == [["docker", "rmi", "--force", tag]]


def test_run_returns_stdout_and_raises_with_stderr() -> None:
    assert bench_measure.run("echo", "hi") == "hi\n"
    with pytest.raises(RuntimeError, match="boom"):
        bench_measure.run("sh", "-c", "echo boom >&2; exit 3")


def test_context_copy_has_the_sources_and_edits_stay_in_the_copy(tmp_path: Path) -> None:
    bench_measure.copy_context(tmp_path)
    original = (bench_measure.ROOT / bench_measure.EDITED_SOURCE).read_text()

    bench_measure.edit_source(tmp_path, 1)

    assert (tmp_path / "pyproject.toml").is_file()
    assert (tmp_path / "containers" / "Dockerfile").is_file()
    assert (tmp_path / bench_measure.EDITED_SOURCE).read_text().startswith(original)
    assert "# bench edit" in (tmp_path / bench_measure.EDITED_SOURCE).read_text()
    assert (bench_measure.ROOT / bench_measure.EDITED_SOURCE).read_text() == original


def test_build_uses_invoke_builds_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[tuple[str, ...]] = []
    monkeypatch.setattr(bench_measure, "run", lambda *cmd, **_: commands.append(cmd) or "")

    bench_measure.build(SETUP, Path("/ctx"), tag="t:1", no_cache=True)
    bench_measure.build_naive(SETUP, Path("/ctx"), tag="t:2")

    real, naive = commands
    assert real[:5] == ("docker", "buildx", "build", "--progress", "plain")
    assert {"--no-cache", "--network", "none", "--target", "app"} <= set(real)
    assert "PYTHON_BASE=base:1" in real
    assert str(Path("/ctx") / bench_measure.NAIVE_IN_CONTEXT) in naive
    assert "INDEX_OPTIONS=--no-index --find-links /app/build/wheelhouse" in naive
    assert "--no-cache" not in naive


def test_build_setup_follows_the_project_config() -> None:
    setup = bench_measure.build_setup()
    config = bench_measure.invoke_config()

    assert setup.python_base == setup.args["PYTHON_BASE"]
    assert setup.proxy_image == config["images"]["nginx"]
    assert setup.network_none is bool(config["offline"])


def fake_save(layers: list[tuple[str, bytes]], *, link_last: bool = False) -> bytes:
    """A `docker save` archive: one layer.tar per layer, in manifest order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        paths = []
        for n, (_diff_id, content) in enumerate(layers):
            path = f"l{n}/layer.tar"
            info = tarfile.TarInfo(path)
            if link_last and n == len(layers) - 1:
                info.type, info.linkname = tarfile.SYMTYPE, "../l0/layer.tar"
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            paths.append(path)
        manifest = json.dumps([{"Layers": paths}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    return buffer.getvalue()


class FakeImage:
    def __init__(self, layers: list[tuple[str, bytes]], *, link_last: bool = False) -> None:
        self.attrs = {"Size": 1000, "RootFS": {"Layers": [d for d, _ in layers]}}
        self._tar = fake_save(layers, link_last=link_last)

    def save(self, named: bool = False) -> Iterator[bytes]:
        for start in range(0, len(self._tar), 700):  # chunks that split tar headers
            yield self._tar[start : start + 700]


class FakeClient:
    def __init__(self, images: dict[str, FakeImage]) -> None:
        self.images = self
        self._images = images

    def get(self, tag: str) -> FakeImage:
        return self._images[tag]


def test_layer_sizes_come_from_docker_save_including_linked_layers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layers = [("sha256:a", b"a" * 5000), ("sha256:b", b"b" * 10), ("sha256:c", b"")]
    client = FakeClient({"img": FakeImage(layers, link_last=True)})
    monkeypatch.setattr(bench_measure, "docker_client", lambda: client)

    sizes = bench_measure.layer_sizes("img")

    assert sizes == {"sha256:a": 5000, "sha256:b": 10, "sha256:c": 5000}
    assert bench_measure.image_size("img") == 1000


def test_changed_bytes_count_only_layers_the_old_image_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = FakeImage([("sha256:base", b"x" * 100), ("sha256:old", b"o" * 7)])
    after = FakeImage([("sha256:base", b"x" * 100), ("sha256:new", b"n" * 42)])
    monkeypatch.setattr(
        bench_measure, "docker_client", lambda: FakeClient({"a": before, "b": after})
    )

    assert bench_measure.changed_bytes("a", "b") == 42


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_wait_http_200_returns_when_answered_and_times_out_otherwise(http_url: str) -> None:
    assert bench_measure.wait_http_200(http_url + "/health") > 0
    port = bench_measure.free_port()
    with pytest.raises(TimeoutError, match="did not answer 200"):
        bench_measure.wait_http_200(f"http://127.0.0.1:{port}/", timeout=0.2)


def test_container_rss_sums_python_processes_only() -> None:
    class Container:
        def top(self, ps_args: str) -> dict[str, Any]:
            assert "pid" in ps_args  # the engine refuses ps output without it
            return {
                "Titles": ["PID", "RSS", "COMMAND"],
                "Processes": [["1", "900", "docker-init"], ["7", "2048", "python"]],
            }

    assert bench_measure.container_rss(Container()) == 2048 * 1024


def test_process_rss_of_this_process_is_positive() -> None:
    assert bench_measure.process_rss(os.getpid()) > 1_000_000


def test_peak_rss_keeps_the_highest_sample() -> None:
    values = iter([10, 50, 20, 20, 20, 20])
    with bench_measure.peak_rss(lambda: next(values, 20)) as peak:
        threading.Event().wait(1.2)

    assert peak[0] == 50


def test_check_notes_failed_requests_only() -> None:
    report = bench.Report()

    bench_measure.check(result(1, 2), "clean", report)
    bench_measure.check(result(1, 2, requests=10, ok=7), "faulty", report)

    assert len(report.notes) == 1
    assert report.notes[0].startswith("faulty: 3 non-2xx of 10")


# ------------------------------------------------------------------- the stack


def test_stack_overlay_publishes_app_and_fake_on_loopback_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[str, ...], dict[str, str]]] = []

    def fake_run(*command: str, env: dict[str, str], **_: Any) -> str:
        calls.append((command, env))
        return "127.0.0.1:32768\n"

    monkeypatch.setattr(bench_measure, "run", fake_run)
    stack = bench_measure.Stack(tmp_path, "nginx:1", "app:1", "fake:1", project="p", key="k123")

    stack.up({"FAKE_GEMINI_LATENCY_MS": "500"})
    url = stack.url("gemini-app", 8000)
    stack.down()

    overlay = (tmp_path / "overlay.yaml").read_text()
    assert '"127.0.0.1::8000"' in overlay
    assert '"127.0.0.1::8001"' in overlay
    assert (tmp_path / "bench.env").read_text() == "FAKE_GEMINI_LATENCY_MS=500\n"
    assert (tmp_path / "key.txt").read_text() == "k123\n"
    command, env = calls[0]
    assert command[:4] == ("docker", "compose", "-p", "p")
    assert "--wait" in command
    assert env["GEMINI_API_KEY_SECRET_FILE"] == str(tmp_path / "key.txt")
    assert env["GEMINI_APP_IMAGE"] == "app:1"
    assert env["GEMINI_PROXY_PORT"] == str(stack.proxy_port)
    assert "k123" not in json.dumps(env)  # a path, never the key itself
    assert url == "http://127.0.0.1:32768"
    assert stack.proxy_url == f"http://127.0.0.1:{stack.proxy_port}"
    assert "down" in calls[-1][0]


# -------------------------------------------------------------------- sections


def test_images_section_reports_size_layers_changed_bytes_and_rebuild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[tuple[str, bool]] = []

    def fake_build(_setup: BuildSetup, _context: Path, *, tag: str, **kw: Any) -> float:
        builds.append((tag, kw.get("no_cache", False)))
        return 20.0 if kw.get("no_cache") else 2.0

    sizes = {"base:1": 100 * bench.MB}
    monkeypatch.setattr(bench_measure, "build_setup", lambda: SETUP)
    monkeypatch.setattr(bench_measure, "copy_context", lambda _dest: None)
    monkeypatch.setattr(bench_measure, "build", fake_build)
    monkeypatch.setattr(bench_measure, "edit_source", lambda *_: None)
    monkeypatch.setattr(
        bench_measure,
        "image_size",
        lambda tag: sizes.get(tag, (400 if "naive" in tag else 160) * bench.MB),
    )
    monkeypatch.setattr(
        bench_measure, "layer_ids", lambda tag: ["l"] * (2 if tag == "base:1" else 5)
    )
    monkeypatch.setattr(
        bench_measure,
        "changed_bytes",
        lambda _a, b: (250 if "naive" in b else 0.2) * bench.MB,
    )
    report = bench.Report()

    bench_measure.images(report, args(), QUIET)

    figures = {f.key: f for f in report.figures}
    size = figures["image_size_over_base"]
    assert (size.value.median, size.reference.median if size.reference else 0) == (60.0, 300.0)
    assert size.met is True
    assert figures["layers_over_base"].value.median == 3
    assert figures["changed_layer_bytes"].value.median == pytest.approx(0.2)
    assert figures["changed_layer_bytes"].met is True
    assert figures["warm_rebuild"].ratio == pytest.approx(0.1)
    assert figures["warm_rebuild"].met is True
    assert sum(no_cache for _, no_cache in builds) == 3  # 2 cold runs + 1 naive cold


def test_startup_section_compares_with_a_bare_python_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[str] = []

    def fake_first_200(image: str, _port: int, *command: str, path: str = "/health") -> float:
        started.append(image)
        return 0.5 if command else 0.8

    monkeypatch.setattr(bench_measure, "build_setup", lambda: SETUP)
    monkeypatch.setattr(bench_measure, "bench_images", lambda _s: ("app:1", "fake:1"))
    monkeypatch.setattr(bench_measure, "time_to_first_200", fake_first_200)
    report = bench.Report()

    bench_measure.startup(report, args(runs=2), QUIET)

    (figure,) = report.figures
    assert figure.value.median == 0.8
    assert figure.reference is not None
    assert figure.reference.median == 0.5
    assert figure.met is True
    assert started.count("app:1") == 5  # at least five runs: a start-up time is noisy


def test_time_to_first_200_runs_publishes_on_loopback_and_removes_the_container(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands: list[tuple[str, ...]] = []
    removed: list[list[str]] = []
    monkeypatch.setattr(bench_measure, "run", lambda *cmd, **_: commands.append(cmd) or "id")
    monkeypatch.setattr(bench_measure, "wait_http_200", lambda _url: 1e12)
    monkeypatch.setattr(bench_measure.subprocess, "run", lambda cmd, **_: removed.append(cmd))

    assert bench_measure.time_to_first_200("app:1", 8000) > 0

    (command,) = commands
    assert command[:3] == ("docker", "run", "-d")
    assert any(part.startswith("127.0.0.1:") and part.endswith(":8000") for part in command)
    assert removed[0][:3] == ["docker", "rm", "--force"]


def test_up_section_times_invoke_up_against_bare_compose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands: list[tuple[str, ...]] = []
    monkeypatch.setattr(bench_measure, "run", lambda *cmd, **_: commands.append(cmd) or "")
    monkeypatch.setattr(bench_measure, "build_setup", lambda: SETUP)
    monkeypatch.setattr(bench_measure, "bench_images", lambda _s: ("app:1", "fake:1"))
    monkeypatch.setattr(bench_measure, "invoke_up_seconds", lambda *_: 6.0)
    monkeypatch.setattr(bench_measure, "compose_up_seconds", lambda *_: 5.0)
    report = bench.Report()

    bench_measure.up(report, args(), QUIET)

    assert commands == []  # the images come from bench_images, pinned
    (figure,) = report.figures
    assert (figure.value.median, figure.met) == (6.0, True)


def test_invoke_up_seconds_runs_a_unique_stack_without_the_real_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[tuple[str, ...], dict[str, str]]] = []
    monkeypatch.setenv("GEMINI_API_KEY", "real-key")
    monkeypatch.setattr(bench_measure, "run", lambda *cmd, env, **_: seen.append((cmd, env)) or "")
    monkeypatch.setattr(
        bench_measure.subprocess, "run", lambda cmd, env, **_: seen.append((tuple(cmd), env))
    )

    assert bench_measure.invoke_up_seconds("gs-bench-x", "app:1", "fake:1") >= 0

    (up_cmd, up_env), (down_cmd, down_env) = seen
    assert up_cmd[:4] == ("invoke", "up", "--no-build", "--port")
    assert down_cmd == ("invoke", "down")
    assert up_env["INVOKE_STACK_PROJECT"] == down_env["INVOKE_STACK_PROJECT"] == "gs-bench-x"
    assert "GEMINI_API_KEY" not in up_env
    assert (up_env["INVOKE_STACK_APP_IMAGE"], up_env["INVOKE_STACK_FAKE_IMAGE"]) == (
        "app:1",
        "fake:1",
    )


def test_latency_figures_subtract_the_fake_run_by_run() -> None:
    report = bench.Report()
    lat = {
        "fake": [result(1.0, 2.0), result(1.2, 3.0)],
        "app": [result(3.0, 9.0), result(3.4, 9.0)],
        "proxy": [result(5.0, 12.0), result(9.2, 13.0)],
    }

    bench_measure.add_latency_figures(report, lat)

    figures = {f.key: f for f in report.figures}
    assert figures["added_latency_app_p50"].value.runs == (2.0, pytest.approx(2.2))
    assert figures["added_latency_app_p50"].met is True
    assert figures["added_latency_proxy_p50"].value.runs == pytest.approx((4.0, 8.0))
    assert figures["added_latency_proxy_p50"].met is False
    assert figures["added_latency_app_p99"].met is None


def test_throughput_figures_are_judged_against_the_ideal_rate() -> None:
    report = bench.Report()

    bench_measure.add_throughput_figures(
        report,
        {"fake": [250.0], "app": [230.0, 220.0], "proxy": [150.0]},
        [120.0, 130.0],
        70.0,
        {"legacy": ([100.0], [300.0])},
    )

    figures = {f.key: f for f in report.figures}
    assert figures["throughput_app"].reference is not None
    assert figures["throughput_app"].reference.median == 256.0
    assert figures["throughput_app"].met is True
    assert figures["throughput_proxy"].met is False
    assert figures["throughput_fake"].met is None
    assert figures["app_rss_under_load"].value.median == 125.0
    assert figures["throughput_host_legacy"].met is False
    assert "300 MB" in figures["throughput_host_legacy"].note


def test_service_section_measures_every_hop_and_both_sdks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    urls: list[str] = []

    def fake_load(url: str, **kw: Any) -> loadgen.LoadResult:
        urls.append(url)
        if kw["connections"] == 1:
            return result(1.0 if ":1/" in url else 3.0, 5.0)
        return loadgen.LoadResult(2300, 10.0, {}, {"p50": 500.0}, {200: 2300})

    class FakeStack:
        proxy_url = "http://127.0.0.1:3"

        def __init__(self, *_: Any) -> None:
            self.ups: list[dict[str, str]] = []

        def up(self, env: dict[str, str]) -> None:
            self.ups.append(env)

        def url(self, service: str, _port: int) -> str:
            return "http://127.0.0.1:1" if service == "fake-gemini" else "http://127.0.0.1:2"

        def container(self, _service: str) -> object:
            return object()

        def down(self) -> None:
            pass

    monkeypatch.setattr(bench_measure.loadgen, "ensure_wrk", lambda: "wrk")
    monkeypatch.setattr(bench_measure.loadgen, "run", fake_load)
    monkeypatch.setattr(bench_measure, "build_setup", lambda: SETUP)
    monkeypatch.setattr(bench_measure, "bench_images", lambda _s: ("app:1", "fake:1"))
    monkeypatch.setattr(bench_measure, "Stack", FakeStack)
    monkeypatch.setattr(bench_measure, "container_rss", lambda _c: 100 * bench.MB)
    monkeypatch.setattr(
        bench_measure,
        "host_throughput",
        lambda *_: {"genai": ([200.0], [90.0]), "legacy": ([120.0], [200.0])},
    )
    report = bench.Report()

    bench_measure.service(report, args(runs=1), QUIET)

    figures = {f.key: f for f in report.figures}
    assert figures["added_latency_app_p50"].value.median == 2.0
    assert figures["throughput_app"].value.median == 230.0
    assert figures["throughput_host_legacy"].value.median == 120.0
    assert any(u.startswith("http://127.0.0.1:3/") for u in urls)  # the proxy was loaded


def test_host_app_serves_the_service_against_the_fake(fake_gemini: str) -> None:
    with bench_measure.host_app(fake_gemini, "genai") as (url, pid):
        assert bench_measure.wait_http_200(url + "/health", timeout=5) > 0
        assert bench_measure.process_rss(pid) > 0


def test_host_throughput_runs_each_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    @contextmanager
    def fake_host_app(_fake: str, sdk: str) -> Iterator[tuple[str, int]]:
        yield f"http://127.0.0.1:9/{sdk}", os.getpid()

    monkeypatch.setattr(bench_measure, "host_app", fake_host_app)
    monkeypatch.setattr(
        bench_measure.loadgen,
        "run",
        lambda url, **_: loadgen.LoadResult(10, 1.0, {}, {"p50": 1.0}, {200: 10}),
    )

    results = bench_measure.host_throughput("http://fake", args(runs=2), QUIET, bench.Report())

    assert set(results) == {"genai", "legacy"}
    assert results["legacy"][0] == [10.0, 10.0]
