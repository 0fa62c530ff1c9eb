"""The measurements behind `nox -s bench`, one function per section of the table.

Each section measures its figure and its reference in the same run, interleaved where the
order could bias the result (latency, throughput), and records both in the Report. Builds
that need an edit happen in a temporary copy of the build context: the working tree is never
touched. Every container, image tag and compose project created here carries the run's id
and is removed in a `finally`, whatever happened.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from argparse import Namespace
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from gemini_workflow import loadgen
from gemini_workflow.bench import (
    MB,
    Report,
    Stats,
    at_least_share,
    at_most,
    at_most_share,
    figure,
)
from gemini_workflow.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "containers/Dockerfile"
NAIVE_IN_CONTEXT = "containers/bench/naive.Dockerfile"
NAIVE_DOCKERFILE = ROOT / NAIVE_IN_CONTEXT
COMPOSE_FILE = ROOT / "compose" / "compose.yaml"
RUN_ID = secrets.token_hex(3)
BENCH_KEY = "bench-placeholder-key"
EDITED_SOURCE = "src/gemini_service/__init__.py"
FAKE_LATENCY_MS = 500
CONCURRENCY = 128
FAKE_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
FAKE_BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "bench"}]}]})
APP_PATH = "/generate"
APP_BODY = json.dumps({"prompt": "bench"})
JSON = {"Content-Type": "application/json"}


# ------------------------------------------------------------------- engine helpers


def run(*command: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    """Run a command, return stdout; fail with its stderr, which says what went wrong."""
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=timeout, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed:\n{done.stderr.strip()[-3000:]}")
    return done.stdout


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def docker_client() -> Any:
    import docker

    return docker.from_env()


@dataclass
class Tags:
    """Every image tag this run created, so cleanup removes exactly those."""

    names: list[str] = field(default_factory=list)

    def new(self, what: str) -> str:
        tag = f"gemini-bench:{RUN_ID}-{what}"
        self.names.append(tag)
        return tag

    def remove_all(self) -> None:
        for tag in self.names:
            subprocess.run(["docker", "rmi", "--force", tag], capture_output=True, check=False)


TAGS = Tags()


# --------------------------------------------------------------------- build setup


@dataclass(frozen=True)
class BuildSetup:
    """How this host builds: base images and the offline arguments `invoke bootstrap` chose."""

    python_base: str
    proxy_image: str
    args: dict[str, str]
    network_none: bool


def invoke_config() -> Any:
    """The project's invoke config as a task sees it (defaults, invoke.yaml, INVOKE_*)."""
    from gemini_workflow import config

    return config.load(ROOT)


def build_setup() -> BuildSetup:
    """The base images and build arguments `invoke build` would use on this host."""
    from gemini_workflow import images

    config = invoke_config()
    request = images.request_from_config(config, root=ROOT)
    args = images.build_args(
        images.read_source_info(ROOT),
        python_base=request.python_base,
        python_version=request.python_version,
        offline=request.offline,
    )
    return BuildSetup(
        python_base=request.python_base,
        proxy_image=str(config["images"]["nginx"]),
        args=args,
        network_none=request.offline,
    )


def copy_context(destination: Path) -> None:
    """Copy the build context (tracked and new files, plus the wheelhouse) for safe edits."""
    listed = run(
        "git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    wheelhouse = ROOT / "build" / "wheelhouse"
    if wheelhouse.is_dir():
        shutil.copytree(wheelhouse, destination / "build" / "wheelhouse")


def edit_source(context: Path, n: int) -> None:
    """A source-only edit: what a developer's one-line change does to the build."""
    path = context / EDITED_SOURCE
    path.write_text(path.read_text() + f"\n# bench edit {RUN_ID}-{n}\n")


def build(
    setup: BuildSetup,
    context: Path,
    *,
    tag: str,
    dockerfile: str = DOCKERFILE,
    target: str = "app",
    no_cache: bool = False,
    extra_args: dict[str, str] | None = None,
) -> float:
    """Build one image with `invoke build`'s exact command line; return wall-clock seconds."""
    from gemini_workflow import docker_engine

    spec = docker_engine.BuildSpec(
        context=context,
        dockerfile=context / dockerfile,
        target=target,
        tags=[tag],
        build_args={**setup.args, **(extra_args or {})},
        no_cache=no_cache,
        network="none" if setup.network_none else None,
    )
    command = docker_engine.build_command(spec)
    command[3:3] = ["--progress", "plain"]
    return timed(lambda: run(*command, timeout=900))


def build_naive(setup: BuildSetup, context: Path, *, tag: str, no_cache: bool = False) -> float:
    """The reference build: same base, same wheels, same offline rules, naive Dockerfile."""
    extra = {"INDEX_OPTIONS": "--no-index --find-links /app/build/wheelhouse"}
    return build(
        setup,
        context,
        tag=tag,
        dockerfile=NAIVE_IN_CONTEXT,
        target="naive",
        no_cache=no_cache,
        extra_args=extra if setup.network_none else {},
    )


# ----------------------------------------------------------------- image anatomy


def image_attrs(tag: str) -> dict[str, Any]:
    attrs: dict[str, Any] = docker_client().images.get(tag).attrs
    return attrs


def image_size(tag: str) -> int:
    return int(image_attrs(tag)["Size"])


def layer_ids(tag: str) -> list[str]:
    return list(image_attrs(tag)["RootFS"]["Layers"])


class _ChunkReader(io.RawIOBase):
    """A file-like view of the docker SDK's chunk iterator, so tarfile can stream it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def layer_sizes(tag: str) -> dict[str, int]:
    """Uncompressed bytes of each layer, keyed by diff id, read from `docker save`."""
    image = docker_client().images.get(tag)
    reader = io.BufferedReader(_ChunkReader(iter(image.save(named=False))), 1 << 20)
    sizes_by_path: dict[str, int] = {}
    links: dict[str, str] = {}
    manifest: list[dict[str, Any]] = []
    with tarfile.open(fileobj=reader, mode="r|") as archive:
        for member in archive:
            if member.name.endswith("layer.tar"):
                if member.issym():
                    links[member.name] = os.path.normpath(
                        os.path.join(os.path.dirname(member.name), member.linkname)
                    )
                else:
                    sizes_by_path[member.name] = member.size
            elif member.name == "manifest.json":
                extracted = archive.extractfile(member)
                manifest = json.load(extracted) if extracted else []
    paths = manifest[0]["Layers"] if manifest else []
    diff_ids = layer_ids(tag)
    return {
        diff_id: sizes_by_path.get(links.get(path, path), 0)
        for diff_id, path in zip(diff_ids, paths, strict=True)
    }


def changed_bytes(before: str, after: str) -> int:
    """Bytes of the layers `after` has and `before` lacks: what a push would upload."""
    old = set(layer_ids(before))
    return sum(size for diff_id, size in layer_sizes(after).items() if diff_id not in old)


# ---------------------------------------------------------------------- section 1-3


def images(report: Report, args: Namespace, console: Console) -> None:
    """Size, layers, bytes changed by a source edit, and warm vs cold build time."""
    setup = build_setup()
    base_size = image_size(setup.python_base)
    base_layers = len(layer_ids(setup.python_base))
    cold: list[float] = []
    warm: list[float] = []
    pushed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gemini-bench-") as tmp:
        context = Path(tmp)
        copy_context(context)
        if not (context / NAIVE_IN_CONTEXT).is_file():  # not yet committed or listed
            (context / NAIVE_IN_CONTEXT).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(NAIVE_DOCKERFILE, context / NAIVE_IN_CONTEXT)
        previous = ""
        for n in range(args.runs):
            tag = TAGS.new(f"cold{n}")
            console.print(f"cold build {n + 1}/{args.runs} (--no-cache)")
            cold.append(build(setup, context, tag=tag, no_cache=True))
            previous = tag
        for n in range(args.runs):
            edit_source(context, n)
            tag = TAGS.new(f"warm{n}")
            console.print(f"warm rebuild {n + 1}/{args.runs} after a source-only edit")
            warm.append(build(setup, context, tag=tag))
            pushed.append(changed_bytes(previous, tag) / MB)
            previous = tag
        console.print("naive build (--no-cache), then a source-only edit and a rebuild")
        naive = TAGS.new("naive")
        naive_cold = build_naive(setup, context, tag=naive, no_cache=True)
        edit_source(context, args.runs)
        naive_edit = TAGS.new("naive-edit")
        naive_warm = build_naive(setup, context, tag=naive_edit)
        naive_pushed = changed_bytes(naive, naive_edit) / MB
    app_over_base = (image_size(previous) - base_size) / MB
    naive_over_base = (image_size(naive) - base_size) / MB
    report.add(
        figure(
            "image_size_over_base",
            "(1) app image size over base",
            "MB",
            Stats.of([app_over_base]),
            Stats.of([naive_over_base]),
            "naive single-stage",
            "<= 1/3 of naive",
            at_most_share(1 / 3),
            note=f"base {setup.python_base}: {base_size / MB:.0f} MB (deterministic: one run)",
        )
    )
    report.add(
        figure(
            "layers_over_base",
            "(1) layers over base",
            "layers",
            Stats.of([len(layer_ids(previous)) - base_layers]),
            Stats.of([len(layer_ids(naive)) - base_layers]),
            "naive",
            "(reported)",
        )
    )
    report.add(
        figure(
            "changed_layer_bytes",
            "(2) layer bytes changed by a source edit",
            "MB",
            Stats.of(pushed),
            Stats.of([naive_pushed]),
            "naive",
            "< 1 MB",
            at_most(1.0),
            note="uncompressed layer bytes: an upper bound of what `docker push` uploads",
        )
    )
    report.add(
        figure(
            "warm_rebuild",
            "(3) rebuild after a source edit",
            "s",
            Stats.of(warm),
            Stats.of(cold),
            "cold build",
            "< 15% of cold",
            at_most_share(0.15),
            note=f"naive: cold {naive_cold:.1f} s, after an edit {naive_warm:.1f} s",
        )
    )
    report.notes.append(
        f"naive build: cold {naive_cold:.1f} s, rebuild after a source edit {naive_warm:.1f} s"
    )


# ------------------------------------------------------------------------ section 4


def wait_http_200(url: str, *, timeout: float = 60.0, interval: float = 0.01) -> float:
    """Poll url until it answers 200; return when, raise if it never does."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return time.perf_counter()
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")


def time_to_first_200(
    image: str, port_in_container: int, *command: str, path: str = "/health"
) -> float:
    """`docker run -d` to the first 200 on `path` through a published loopback port."""
    port = free_port()
    name = f"gemini-bench-{RUN_ID}-{secrets.token_hex(2)}"
    started = time.perf_counter()
    run(
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "-p",
        f"127.0.0.1:{port}:{port_in_container}",
        "-e",
        f"GEMINI_API_KEY={BENCH_KEY}",
        "-e",
        "GEMINI_API_ENDPOINT=http://127.0.0.1:9",
        image,
        *command,
    )
    try:
        return wait_http_200(f"http://127.0.0.1:{port}{path}") - started
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def startup(report: Report, args: Namespace, console: Console) -> None:
    """Container start to the first 200, next to a bare Python HTTP server on the same base."""
    setup = build_setup()
    app, _fake = bench_images(setup)
    service: list[float] = []
    floor: list[float] = []
    runs = max(args.runs, 5)
    for n in range(runs):
        console.print(f"docker run -> first 200 on /health, run {n + 1}/{runs}")
        service.append(time_to_first_200(app, 8000))
        floor.append(
            time_to_first_200(
                setup.python_base,
                8000,
                *("python3", "-m", "http.server", "--bind", "0.0.0.0", "8000"),  # noqa: S104
                path="/",  # the directory listing: http.server has no /health
            )
        )
    report.add(
        figure(
            "startup_to_200",
            "(4) docker run -> first 200 /health",
            "s",
            Stats.of(service),
            Stats.of(floor),
            "stdlib http.server",
            "< 1 s median",
            at_most(1.0),
        )
    )


# ------------------------------------------------------------------------ section 5


def invoke_up_seconds(project: str, app: str, fake: str) -> float:
    """Time `invoke up --no-build` for a uniquely named stack; always take it down again.

    The images are pinned (stack.app_image/fake_image) to the ones this run built: the
    default tags follow the commit, which may move while the bench runs.
    """
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}  # never the real API
    env |= {
        "INVOKE_STACK_PROJECT": project,
        "INVOKE_STACK_APP_IMAGE": app,
        "INVOKE_STACK_FAKE_IMAGE": fake,
    }
    try:
        return timed(
            functools.partial(
                run, "invoke", "up", "--no-build", "--port", str(free_port()), env=env, timeout=300
            )
        )
    finally:
        subprocess.run(["invoke", "down"], env=env, capture_output=True, check=False)


def compose_up_seconds(setup: BuildSetup, app: str, fake: str) -> float:
    """The floor under `invoke up`: bare `docker compose up -d --wait` of the same stack."""
    with tempfile.TemporaryDirectory(prefix="gemini-bench-") as tmp:
        stack = Stack(Path(tmp), setup.proxy_image, app, fake)
        try:
            return timed(functools.partial(stack.up, {}))
        finally:
            stack.down()


def up(report: Report, args: Namespace, console: Console) -> None:
    """`invoke up` (images already built) to a healthy stack, next to bare `compose up --wait`."""
    setup = build_setup()
    app, fake = bench_images(setup)
    invoke_runs: list[float] = []
    compose_runs: list[float] = []
    for n in range(args.runs):
        console.print(f"invoke up -> healthy, run {n + 1}/{args.runs}")
        invoke_runs.append(invoke_up_seconds(f"gs-bench-{RUN_ID}-up{n}", app, fake))
        compose_runs.append(compose_up_seconds(setup, app, fake))
    report.add(
        figure(
            "invoke_up_to_healthy",
            "(5) invoke up -> healthy stack",
            "s",
            Stats.of(invoke_runs),
            Stats.of(compose_runs),
            "compose up --wait",
            "< 10 s",
            at_most(10.0),
            note="invoke up includes its first answered request through the proxy",
        )
    )


# ------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """The project's compose stack plus an overlay that publishes app and fake on loopback.

    Only api-proxy publishes a port in the real stack; the overlay adds loopback-only,
    ephemeral ports for gemini-app and fake-gemini so callers can reach each hop directly.
    Used by the bench and by the reliability suite (tests/reliability).
    """

    workdir: Path
    proxy_image: str
    app_image: str
    fake_image: str
    project: str = field(default_factory=lambda: f"gs-bench-{RUN_ID}-{secrets.token_hex(2)}")
    key: str = BENCH_KEY
    proxy_port: int = field(default_factory=free_port)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def write_files(self, env: dict[str, str]) -> None:
        """The stack's environment file, key file and the publishing overlay."""
        (self.workdir / "bench.env").write_text(
            "".join(f"{key}={value}\n" for key, value in env.items())
        )
        (self.workdir / "key.txt").write_text(self.key + "\n")
        (self.workdir / "key.txt").chmod(0o644)  # read by the app's unprivileged user
        (self.workdir / "overlay.yaml").write_text(
            "services:\n"
            "  gemini-app:\n"
            '    ports: ["127.0.0.1::8000"]\n'
            "  fake-gemini:\n"
            '    ports: ["127.0.0.1::8001"]\n'
            "    environment:\n"
            "      LOG_LEVEL: warning\n"
        )

    def compose(self, *command: str) -> str:
        environment = {
            **os.environ,
            "GEMINI_APP_IMAGE": self.app_image,
            "GEMINI_FAKE_IMAGE": self.fake_image,
            "GEMINI_PROXY_IMAGE": self.proxy_image,
            "GEMINI_PROXY_PORT": str(self.proxy_port),
            "GEMINI_STACK_ENV_FILE": str(self.workdir / "bench.env"),
            "GEMINI_API_KEY_SECRET_FILE": str(self.workdir / "key.txt"),
        }
        files = ["-f", str(COMPOSE_FILE), "-f", str(self.workdir / "overlay.yaml")]
        return run(
            "docker", "compose", "-p", self.project, *files, *command, env=environment, timeout=300
        )

    def up(self, env: dict[str, str]) -> None:
        """Start (or reconfigure) the stack and wait until every service is healthy."""
        self.write_files(env)
        self.compose("up", "-d", "--wait", "--wait-timeout", "120")

    def down(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")

    def url(self, service: str, port: int) -> str:
        address = self.compose("port", service, str(port)).strip().splitlines()[-1]
        return f"http://{address}"

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--timestamps")

    def container(self, service: str) -> Any:
        ids = self.compose("ps", "-q", service).split()
        return docker_client().containers.get(ids[0])


def bench_images(setup: BuildSetup) -> tuple[str, str]:
    """App and fake images of the current tree (a cached build), tagged for this run only."""
    app, fake = f"gemini-bench:{RUN_ID}-app", f"gemini-bench:{RUN_ID}-fake"
    if app not in TAGS.names:
        TAGS.names += [app, fake]
        build(setup, ROOT, tag=app, target="app")
        build(setup, ROOT, tag=fake, target="fake")
    return app, fake


def container_rss(container: Any) -> int:
    """Resident bytes of the container's Python processes (the init process excluded)."""
    top = container.top(ps_args="-o pid,rss,comm")
    titles = top["Titles"]
    rss, comm = titles.index("RSS"), titles.index("COMMAND")
    return sum(int(p[rss]) * 1024 for p in top["Processes"] if "python" in p[comm])


def process_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def peak_rss(sample: Callable[[], int]) -> Iterator[list[int]]:
    """Sample RSS twice a second while the block runs; the list ends with the peak."""
    peak = [sample()]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.5):
            with contextlib.suppress(Exception):
                peak[0] = max(peak[0], sample())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


# ---------------------------------------------------------------------- section 6-7


def latency_run(
    url: str, path: str, body: str, seconds: float, headers: dict[str, str]
) -> loadgen.LoadResult:
    """One connection, one request at a time: the latency of a request with no queueing."""
    return loadgen.run(
        url + path,
        connections=1,
        threads=1,
        duration_s=seconds,
        method="POST",
        body=body,
        headers=headers,
    )


def throughput_run(
    url: str, path: str, body: str, seconds: float, headers: dict[str, str]
) -> loadgen.LoadResult:
    """128 closed-loop clients: against a 500 ms upstream, at most 256 answers a second."""
    return loadgen.run(
        url + path,
        connections=CONCURRENCY,
        threads=2,
        duration_s=seconds,
        method="POST",
        body=body,
        headers=headers,
        timeout_s=10,
    )


def check(result: loadgen.LoadResult, what: str, report: Report) -> None:
    """A load run with errors still reports, but the table must say so."""
    bad = result.requests - result.ok
    if bad or result.socket_errors:
        report.notes.append(
            f"{what}: {bad} non-2xx of {result.requests}, {result.socket_errors} socket errors "
            f"(statuses {dict(result.statuses)})"
        )


def service(report: Report, args: Namespace, console: Console) -> None:
    """Added latency at concurrency 1, then throughput at 128 clients against a 500 ms fake."""
    loadgen.ensure_wrk()
    setup = build_setup()
    app_image, fake_image = bench_images(setup)
    key = {**JSON, "x-goog-api-key": BENCH_KEY}
    with tempfile.TemporaryDirectory(prefix="gemini-bench-") as tmp:
        stack = Stack(Path(tmp), setup.proxy_image, app_image, fake_image)
        try:
            console.print("stack up (fake latency 0 ms) for the latency runs")
            stack.up({"LOG_LEVEL": "info", "FAKE_GEMINI_LATENCY_MS": "0"})
            fake, app = stack.url("fake-gemini", 8001), stack.url("gemini-app", 8000)
            proxy = stack.proxy_url
            for url, path, body, headers in (
                (fake, FAKE_PATH, FAKE_BODY, key),
                (app, APP_PATH, APP_BODY, JSON),
                (proxy, APP_PATH, APP_BODY, JSON),
            ):
                latency_run(url, path, body, 1, headers)  # warm-up: connections, imports
            lat: dict[str, list[loadgen.LoadResult]] = {"fake": [], "app": [], "proxy": []}
            for n in range(args.runs):
                console.print(f"latency at concurrency 1, run {n + 1}/{args.runs}")
                lat["fake"].append(
                    latency_run(fake, FAKE_PATH, FAKE_BODY, args.latency_seconds, key)
                )
                lat["app"].append(latency_run(app, APP_PATH, APP_BODY, args.latency_seconds, JSON))
                lat["proxy"].append(
                    latency_run(proxy, APP_PATH, APP_BODY, args.latency_seconds, JSON)
                )
            for name, results in lat.items():
                for result in results:
                    check(result, f"latency {name}", report)
            add_latency_figures(report, lat)

            console.print(f"stack up (fake latency {FAKE_LATENCY_MS} ms) for the throughput runs")
            stack.up({"LOG_LEVEL": "info", "FAKE_GEMINI_LATENCY_MS": str(FAKE_LATENCY_MS)})
            fake, app = stack.url("fake-gemini", 8001), stack.url("gemini-app", 8000)
            app_container = stack.container("gemini-app")
            idle_rss = container_rss(app_container) / MB
            tput: dict[str, list[float]] = {"fake": [], "app": [], "proxy": []}
            rss: list[float] = []
            for n in range(args.runs):
                console.print(f"throughput at {CONCURRENCY} clients, run {n + 1}/{args.runs}")
                result = throughput_run(fake, FAKE_PATH, FAKE_BODY, args.load_seconds, key)
                check(result, "throughput fake", report)
                tput["fake"].append(result.rps)
                with peak_rss(lambda: container_rss(app_container)) as peak:
                    result = throughput_run(app, APP_PATH, APP_BODY, args.load_seconds, JSON)
                check(result, "throughput app", report)
                tput["app"].append(result.ok / result.duration_s)
                rss.append(peak[0] / MB)
                result = throughput_run(proxy, APP_PATH, APP_BODY, args.load_seconds, JSON)
                check(result, "throughput proxy", report)
                tput["proxy"].append(result.ok / result.duration_s)
            legacy = host_throughput(fake, args, console, report)
        finally:
            stack.down()
    add_throughput_figures(report, tput, rss, idle_rss, legacy)


def add_latency_figures(report: Report, lat: dict[str, list[loadgen.LoadResult]]) -> None:
    fake = lat["fake"]
    for hop, goal in (("app", 3.0), ("proxy", 5.0)):
        for pct in ("p50", "p99"):
            added = [
                through.latency_ms[pct] - direct.latency_ms[pct]
                for through, direct in zip(lat[hop], fake, strict=True)
            ]
            report.add(
                figure(
                    f"added_latency_{hop}_{pct}",
                    f"(6) added latency {pct}, {'direct' if hop == 'app' else 'via proxy'}",
                    "ms",
                    Stats.of(added),
                    Stats.of(r.latency_ms[pct] for r in fake),
                    "fake alone",
                    f"< {goal:.0f} ms" if pct == "p50" else "(reported)",
                    at_most(goal) if pct == "p50" else None,
                )
            )


def add_throughput_figures(
    report: Report,
    tput: dict[str, list[float]],
    rss: list[float],
    idle_rss: float,
    host: dict[str, tuple[list[float], list[float]]],
) -> None:
    ideal = Stats.of([CONCURRENCY * 1000 / FAKE_LATENCY_MS])
    rows = [
        ("fake", "fake alone (load generator check)", None),
        ("app", "direct to the app", 0.85),
        ("proxy", "through the proxy", 0.75),
    ]
    for key, label, share in rows:
        report.add(
            figure(
                f"throughput_{key}",
                f"(7) 2xx/s at {CONCURRENCY} clients, {label}",
                "req/s",
                Stats.of(tput[key]),
                ideal,
                "ideal",
                f">= {share:.0%} of ideal" if share else "(reported)",
                at_least_share(share) if share else None,
            )
        )
    report.add(
        figure(
            "app_rss_under_load",
            "(7) app RSS under load (peak)",
            "MB",
            Stats.of(rss),
            Stats.of([idle_rss]),
            "idle",
            "(reported)",
        )
    )
    for sdk, (rates, peaks) in host.items():
        report.add(
            figure(
                f"throughput_host_{sdk}",
                f"(7) 2xx/s at {CONCURRENCY} clients, app on host, GEMINI_SDK={sdk}",
                "req/s",
                Stats.of(rates),
                ideal,
                "ideal",
                ">= 85% of ideal",
                at_least_share(0.85),
                note=f"peak RSS {Stats.of(peaks).median:.0f} MB",
            )
        )


@contextlib.contextmanager
def host_app(fake: str, sdk: str) -> Iterator[tuple[str, int]]:
    """The service as a host process (as the image runs it) against the published fake."""
    port = free_port()
    env = {
        **os.environ,
        "GEMINI_API_KEY": BENCH_KEY,
        "GEMINI_API_ENDPOINT": fake,
        "GEMINI_SDK": sdk,
        "LOG_LEVEL": "INFO",
        "PORT": str(port),
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gemini_service"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(),
        )
        try:
            wait_http_200(f"http://127.0.0.1:{port}/health", timeout=60)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def host_throughput(
    fake: str, args: Namespace, console: Console, report: Report
) -> dict[str, tuple[list[float], list[float]]]:
    """The legacy adapter is not in the image, so compare both SDKs as host processes."""
    results: dict[str, tuple[list[float], list[float]]] = {}
    for sdk in ("genai", "legacy"):
        rates: list[float] = []
        peaks: list[float] = []
        with host_app(fake, sdk) as (url, pid):
            latency_run(url, APP_PATH, APP_BODY, 1, JSON)  # warm-up
            for n in range(args.runs):
                console.print(f"throughput, host app GEMINI_SDK={sdk}, run {n + 1}/{args.runs}")
                with peak_rss(functools.partial(process_rss, pid)) as peak:
                    result = throughput_run(url, APP_PATH, APP_BODY, args.load_seconds, JSON)
                check(result, f"throughput host {sdk}", report)
                rates.append(result.ok / result.duration_s)
                peaks.append(peak[0] / MB)
        results[sdk] = (rates, peaks)
    return results


SECTIONS: dict[str, Callable[[Report, Namespace, Console], None]] = {
    "images": images,
    "startup": startup,
    "up": up,
    "service": service,
}
