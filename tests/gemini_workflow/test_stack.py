"""Stack decisions and failure reports, from plain values: no engine needed."""

from __future__ import annotations

import json
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from invoke.config import Config
from invoke.context import MockContext
from invoke.exceptions import Exit
from invoke.runners import Result

from gemini_workflow import stack
from gemini_workflow.errors import WorkflowError
from gemini_workflow.stack import FAKE_UPSTREAM, ApiKey, Images, ServiceState, StackError

REAL = "https://generativelanguage.googleapis.com"
IMAGES = Images(app="gemini-service:1.2.3", fake="gemini-service-fake:1.2.3", proxy="nginx:x")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repo-shaped directory with the two committed environments."""
    env_dir = tmp_path / "compose" / "env"
    env_dir.mkdir(parents=True)
    (env_dir / "dev.env").write_text("LOG_LEVEL=debug\n")
    (env_dir / "test.env").write_text(
        f"GEMINI_UPSTREAM={FAKE_UPSTREAM}\nFAKE_GEMINI_LATENCY_MS=1\n"
    )
    (tmp_path / "compose" / "placeholder-api-key.txt").write_text("placeholder\n")
    return tmp_path


def plan(root: Path, env: str = "dev", environ: dict[str, str] | None = None) -> stack.StackPlan:
    return stack.plan_stack(
        root=root,
        project="gs-unit",
        env=env,
        port=18080,
        bind="127.0.0.1",
        images=IMAGES,
        real_upstream=REAL,
        environ=environ or {},
    )


# ------------------------------------------------------------------ env files and keys


def test_env_file_parser_handles_comments_quotes_and_export(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text(
        "# comment\n\nexport A=1\nB='two words'\nC=\"3\"\nD=\nnot a pair\nE = spaced \n"
    )
    assert stack.read_env_file(path) == {
        "A": "1",
        "B": "two words",
        "C": "3",
        "D": "",
        "E": "spaced",
    }


def test_no_key_anywhere_selects_the_fake_and_says_so(root: Path) -> None:
    chosen = plan(root)
    assert chosen.upstream == FAKE_UPSTREAM
    assert not chosen.uses_real_key
    assert chosen.secret_file() == root / "compose" / "placeholder-api-key.txt"
    assert "fake-gemini" in chosen.summary()
    assert "\n" not in chosen.summary()


def test_key_in_environment_selects_the_real_upstream(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    assert chosen.upstream == REAL
    assert chosen.uses_real_key
    assert chosen.key == ApiKey("GEMINI_API_KEY (the environment)", "AIza-secret")
    assert "AIza-secret" not in chosen.summary()
    assert "AIza-secret" not in repr(chosen)


def test_key_in_dotenv_is_found_when_environment_has_none(root: Path) -> None:
    (root / ".env").write_text("GEMINI_API_KEY=from-dotenv\n")
    key = stack.find_api_key({}, root / ".env")
    assert key is not None
    assert key.value == "from-dotenv"
    assert ".env" in key.origin


def test_environment_key_wins_over_dotenv(root: Path) -> None:
    (root / ".env").write_text("GEMINI_API_KEY=from-dotenv\n")
    key = stack.find_api_key({"GEMINI_API_KEY": "from-env"}, root / ".env")
    assert key is not None
    assert key.value == "from-env"


def test_blank_key_as_in_env_example_counts_as_no_key(root: Path) -> None:
    (root / ".env").write_text("GEMINI_API_KEY=\n")
    assert stack.find_api_key({"GEMINI_API_KEY": "  "}, root / ".env") is None


def test_key_file_is_copied_so_the_containers_user_can_read_it(root: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("from-a-file\n")
    key_file.chmod(0o600)
    chosen = plan(root, environ={"GEMINI_API_KEY_FILE": str(key_file)})
    assert chosen.key == ApiKey("GEMINI_API_KEY_FILE (the environment)", "from-a-file")
    copy = stack.write_secret(chosen)
    assert copy == chosen.state_dir / "gemini_api_key"
    assert copy.read_text() == "from-a-file\n"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o644


def test_key_file_wins_over_a_key_in_the_same_place(root: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("file\n")
    key = stack.find_api_key(
        {"GEMINI_API_KEY_FILE": str(key_file), "GEMINI_API_KEY": "env"}, root / ".env"
    )
    assert key is not None
    assert key.value == "file"


def test_unreadable_key_file_is_an_error_naming_the_path(root: Path) -> None:
    with pytest.raises(StackError, match=r"/nope/key cannot be read"):
        stack.find_api_key({"GEMINI_API_KEY_FILE": "/nope/key"}, root / ".env")


def test_empty_key_file_is_an_error(root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(StackError, match="is empty"):
        stack.find_api_key({"GEMINI_API_KEY_FILE": str(empty)}, root / ".env")


def test_test_env_pins_the_fake_even_with_a_real_key(root: Path) -> None:
    chosen = plan(root, env="test", environ={"GEMINI_API_KEY": "real"})
    assert chosen.upstream == FAKE_UPSTREAM
    assert chosen.secret_file().name == "placeholder-api-key.txt"
    assert not chosen.uses_real_key
    assert "pins the upstream" in chosen.summary()
    assert "placeholder" in chosen.summary()


def test_env_can_be_a_path_to_an_env_file(root: Path, tmp_path: Path) -> None:
    custom = tmp_path / "broken.env"
    custom.write_text("GEMINI_TEMPERATURE=hot\n")
    chosen = plan(root, env=str(custom))
    assert chosen.env_file == custom.resolve()
    assert chosen.env_name == "broken"


def test_unknown_env_lists_the_known_ones(root: Path) -> None:
    with pytest.raises(StackError, match=r"unknown environment 'prod'.*dev, test"):
        plan(root, env="prod")


def test_stack_error_is_a_workflow_error() -> None:
    assert issubclass(StackError, WorkflowError)


def test_secret_file_is_private_dir_readable_file_and_forgotten(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    path = stack.write_secret(chosen)
    assert path.read_text() == "AIza-secret\n"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # read by the container's uid 10001
    assert path.is_relative_to(root / ".local")
    stack.forget_secret(root, chosen.project)
    assert not path.exists()


def test_compose_env_carries_paths_and_names_but_never_the_key(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    env = chosen.compose_env()
    assert "AIza-secret" not in " ".join(env.values())
    assert env["GEMINI_UPSTREAM"] == REAL
    assert env["GEMINI_PROXY_PORT"] == "18080"
    assert env["GEMINI_APP_IMAGE"] == IMAGES.app
    assert env["GEMINI_STACK_ENV_FILE"] == str(root / "compose" / "env" / "dev.env")
    assert env["GEMINI_API_KEY_SECRET_FILE"].endswith("gs-unit/gemini_api_key")


def test_compose_command_names_project_and_file(root: Path) -> None:
    assert stack.compose_command(root, "p1", "ps") == [
        "docker",
        "compose",
        "-p",
        "p1",
        "-f",
        str(root / "compose" / "compose.yaml"),
        "ps",
    ]


def test_url_uses_loopback_when_bound_to_all_interfaces(root: Path) -> None:
    chosen = stack.StackPlan(**{**plan(root).__dict__, "bind": "0.0.0.0"})  # noqa: S104
    assert chosen.url == "http://127.0.0.1:18080"


# --------------------------------------------------------------------------- diagnosis


def inspect_data(
    service: str,
    status: str = "running",
    health: str | None = "healthy",
    probe_output: str = "",
    exit_code: int = 0,
    restarts: int = 0,
) -> dict[str, Any]:
    """The parts of `docker inspect` the diagnosis reads."""
    state: dict[str, Any] = {"Status": status, "ExitCode": exit_code}
    ports = {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}
    if health is not None:
        state["Health"] = {"Status": health, "Log": [{"Output": "ok"}, {"Output": probe_output}]}
    return {
        "Name": f"/gs-{service}-1",
        "State": state,
        "RestartCount": restarts,
        "Config": {"Labels": {stack.SERVICE_LABEL: service}},
        "NetworkSettings": {"Ports": ports if service == "api-proxy" else {"8000/tcp": None}},
    }


def test_state_reads_health_last_probe_and_ports() -> None:
    state = stack.state_from_attrs(
        inspect_data("api-proxy", health="unhealthy", probe_output="curl: (7) refused\n"),
        ["line"],
    )
    assert state.service == "api-proxy"
    assert state.container == "gs-api-proxy-1"
    assert state.status == "unhealthy"
    assert not state.ok
    assert state.health_output == "curl: (7) refused"
    assert state.ports == "127.0.0.1:18080->8080/tcp"
    assert state.log_tail == ("line",)


def test_exited_container_reports_its_exit_code() -> None:
    state = stack.state_from_attrs(inspect_data("gemini-app", "exited", None, exit_code=3))
    assert state.status == "exited (3)"
    assert not state.ok


def test_running_container_without_healthcheck_is_ok() -> None:
    assert stack.state_from_attrs(inspect_data("x", health=None)).ok


def test_diagnosis_names_the_failed_service_with_probe_and_logs() -> None:
    healthy = stack.state_from_attrs(inspect_data("api-proxy"), ["proxy noise"])
    failed = stack.state_from_attrs(
        inspect_data("gemini-app", "restarting", None, exit_code=1, restarts=4),
        ["Traceback", "SettingsError: GEMINI_TEMPERATURE: must be a number"],
    )
    report = stack.diagnose([healthy, failed], "Container gs-gemini-app-1  Error\nexit 1\n")
    assert "✗ gemini-app: restarting" in report
    assert "restarted 4 time(s)" in report
    assert "GEMINI_TEMPERATURE" in report
    assert "api-proxy" not in report  # healthy services are not blamed
    assert "proxy noise" not in report
    assert "docker compose said:" in report
    assert "exit 1" in report


def test_diagnosis_shows_last_health_output_of_unhealthy_service() -> None:
    failed = stack.state_from_attrs(
        inspect_data("fake-gemini", health="unhealthy", probe_output="HTTP 500 from /health"), []
    )
    report = stack.diagnose([failed])
    assert "last health check output:" in report
    assert "HTTP 500 from /health" in report
    assert "(no log output)" in report


def test_diagnosis_without_containers_falls_back_to_compose_output() -> None:
    report = stack.diagnose([], "Error response from daemon: No such image: gemini-service:9\n")
    assert "No container was created." in report
    assert "No such image" in report


@pytest.mark.parametrize(
    ("output", "advice"),
    [
        ("Bind for 127.0.0.1:18080 failed: port is already allocated", "--port 18081"),
        ("listen tcp 127.0.0.1:18080: bind: address already in use", "--port 18081"),
        ("Error response from daemon: No such image: gemini-service:1", "invoke build"),
        ("pull access denied for nginx", "invoke bootstrap"),
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock", "start it"),
    ],
)
def test_known_compose_failures_get_advice(root: Path, output: str, advice: str) -> None:
    explanation = stack.explain_compose_failure(output, plan(root))
    assert explanation is not None
    assert advice in explanation


def test_unknown_compose_failure_gets_no_made_up_advice(root: Path) -> None:
    assert stack.explain_compose_failure("something odd", plan(root)) is None


def test_service_state_status_words() -> None:
    assert ServiceState("a", "c", "running", "starting", 0, 0).status == "starting"
    assert ServiceState("a", "c", "created", None, 0, 0).status == "created"


# ------------------------------------------------------------------------ first answer


def test_answer_text_is_the_generated_text_or_the_error() -> None:
    assert stack.Answer(200, {"text": " Hello \n"}, {}).text == "Hello"
    error = {"error": {"code": "rate_limited", "message": "wait"}}
    assert stack.Answer(429, error, {}).text == "rate_limited: wait"


def test_sample_curl_targets_generate_through_the_proxy() -> None:
    assert stack.sample_curl("http://127.0.0.1:8080").startswith(
        "curl -s http://127.0.0.1:8080/generate "
    )


def test_port_probe_sees_a_bound_port() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not stack.port_is_free("127.0.0.1", port)
    assert stack.port_is_free("127.0.0.1", port)


def test_configured_upstream_takes_the_real_key_whatever_its_name(root: Path) -> None:
    chosen = stack.plan_stack(
        root=root,
        project="gs-unit",
        env="dev",
        port=1,
        bind="127.0.0.1",
        images=IMAGES,
        real_upstream=FAKE_UPSTREAM + "/",
        environ={"GEMINI_API_KEY": "k"},
    )
    assert chosen.upstream == FAKE_UPSTREAM
    assert chosen.uses_real_key
    assert chosen.secret_file().name == "gemini_api_key"
    assert "the key from GEMINI_API_KEY (the environment)" in chosen.summary()


# ------------------------------------------------------- engine calls, with a fake engine


class FakeContainer:
    def __init__(self, attrs: dict[str, Any], logs: bytes = b"") -> None:
        self.attrs = attrs
        self.name = str(attrs["Name"]).lstrip("/")
        self.labels = attrs["Config"]["Labels"]
        self._logs = logs

    def logs(self, **_: Any) -> bytes:
        return self._logs


class FakeContainers:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self.containers = containers
        self.filters: list[dict[str, Any]] = []

    def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[Any]:
        self.filters.append(filters or {})
        if filters and "publish" in filters:
            return [c for c in self.containers if filters["publish"] in stack._published(c.attrs)]
        return self.containers


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> Any:
        from docker.errors import ImageNotFound

        if name not in self.present:
            raise ImageNotFound(name)
        return type("Image", (), {"attrs": {"Id": name}})()


class FakeClient:
    def __init__(
        self, containers: list[FakeContainer], images: frozenset[str] = frozenset()
    ) -> None:
        self.containers = FakeContainers(containers)
        self.images = FakeImages(set(images))


def proxy_container(project: str) -> FakeContainer:
    data = inspect_data("api-proxy")
    data["Config"]["Labels"][stack.PROJECT_LABEL] = project
    return FakeContainer(data)


def test_port_published_by_our_own_proxy_is_not_a_conflict(root: Path) -> None:
    client = FakeClient([proxy_container("gs-unit")])
    assert stack.port_conflict(client, plan(root)) is None
    assert client.containers.filters == [{"publish": "18080"}]


def test_port_published_by_another_project_names_it(root: Path) -> None:
    message = stack.port_conflict(FakeClient([proxy_container("other")]), plan(root))
    assert message is not None
    assert "gs-api-proxy-1 of compose project other" in message
    assert "--port 18081" in message


def test_port_held_by_a_plain_process_is_a_conflict(root: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        chosen = stack.StackPlan(**{**plan(root).__dict__, "port": port})
        message = stack.port_conflict(FakeClient([]), chosen)
    assert message is not None
    assert "in use by another process" in message


def test_missing_images_lists_only_the_absent_ones() -> None:
    client = FakeClient([], images=frozenset({IMAGES.app}))
    assert stack.missing_images(client, [IMAGES.app, IMAGES.fake]) == [IMAGES.fake]


@pytest.mark.parametrize(
    ("missing", "target"),
    [([IMAGES.app, IMAGES.fake], "all"), ([IMAGES.app], "app"), ([IMAGES.fake], "fake")],
)
def test_build_target_builds_exactly_what_is_missing(missing: list[str], target: str) -> None:
    assert stack.build_target(IMAGES, missing) == target


def test_service_states_reads_every_container_of_the_project_sorted() -> None:
    client = FakeClient(
        [
            FakeContainer(inspect_data("gemini-app", health="starting"), b"a\nb\n"),
            FakeContainer(inspect_data("api-proxy")),
        ]
    )
    states = stack.service_states(client, "gs-unit", log_lines=5)
    assert [s.service for s in states] == ["api-proxy", "gemini-app"]
    assert states[1].log_tail == ("a", "b")
    assert client.containers.filters == [{"label": f"{stack.PROJECT_LABEL}=gs-unit"}]


def test_progress_line_lists_each_service_state() -> None:
    states = [stack.state_from_attrs(inspect_data("api-proxy", health="starting"))]
    assert stack.progress_line(states, 3.2, 120) == (
        "waiting for healthy (3/120 s): api-proxy starting"
    )
    assert "creating containers" in stack.progress_line([], 0, 120)


def test_status_table_has_a_row_per_service() -> None:
    states = [stack.state_from_attrs(inspect_data(name)) for name in ("api-proxy", "gemini-app")]
    assert stack.status_table(states).row_count == 2


def test_compose_verdict_is_composes_last_line() -> None:
    assert stack.compose_verdict("a\n container x is unhealthy \n\n") == "container x is unhealthy"
    assert stack.compose_verdict("") == "docker compose gave no reason"


# ------------------------------------------- up and the first answer, engine and HTTP faked


class FakeConsole:
    """Records what `up` tells the user; `status` is the spinner context manager."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.updates: list[str] = []

    def print(self, text: str, **_: Any) -> None:
        self.lines.append(text)

    @contextmanager
    def status(self, text: str) -> Iterator[Any]:
        outer = self

        class Status:
            def update(self, line: str) -> None:
                outer.updates.append(line)

        yield Status()


@pytest.fixture
def fake_compose(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], list[list[str]]]:
    """Replace `docker compose` by a script printing OUTPUT and exiting with CODE."""
    calls: list[list[str]] = []

    def install(output: str, code: int) -> list[list[str]]:
        script = f"import sys, time; time.sleep(0.6); print({output!r}); sys.exit({code})"

        def command(root: Path, project: str, *args: str) -> list[str]:
            calls.append(list(args))
            return [sys.executable, "-c", script]

        monkeypatch.setattr(stack, "compose_command", command)
        return calls

    return install


def test_up_success_reports_progress_and_returns_the_time(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("all healthy", 0)
    console = FakeConsole()
    client = FakeClient([FakeContainer(inspect_data("gemini-app", health="starting"))])

    result = stack.bring_up(plan(root), client, console, timeout=30)

    assert result.ok
    assert result.seconds > 0
    assert "all healthy" in result.output
    assert calls[0][:4] == ["up", "--detach", "--wait", "--wait-timeout"]
    assert any("gemini-app starting" in line for line in console.updates)
    assert "fake-gemini" in console.lines[0]


def test_up_failure_diagnoses_removes_the_stack_and_the_key(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("container gs-gemini-app-1 is unhealthy", 1)
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    failing = FakeContainer(
        inspect_data("gemini-app", health="unhealthy", probe_output="refused"), b"boom\n"
    )

    with pytest.raises(StackError) as caught:
        stack.bring_up(chosen, FakeClient([failing]), FakeConsole(), timeout=30)

    message = str(caught.value)
    assert message.startswith("the stack did not become healthy (container gs-gemini-app-1")
    assert "✗ gemini-app: unhealthy" in message
    assert "boom" in message
    assert "the stack was removed again" in message
    assert calls[-1][0] == "down"
    assert not chosen.state_dir.exists(), "the key file outlived the failed stack"


def test_up_failure_can_keep_the_stack_for_inspection(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("Bind for 127.0.0.1:18080 failed: port is already allocated", 1)

    with pytest.raises(StackError, match=r"--port 18081(.|\n)*containers kept"):
        stack.bring_up(plan(root), FakeClient([]), FakeConsole(), timeout=30, keep_on_failure=True)

    assert [call[0] for call in calls] == ["up"]


def test_up_refuses_a_taken_port_before_starting_anything(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("", 0)
    with pytest.raises(StackError, match="compose project other"):
        stack.bring_up(plan(root), FakeClient([proxy_container("other")]), FakeConsole(), timeout=5)
    assert calls == []


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Iterator[str]:
    """A stand-in for the proxy on a free port, answering /generate with (STATUS, BODY)."""
    status, body = request.param

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("service", [(200, {"text": "Hi there"})], indirect=True)
def test_greet_prints_url_curl_and_the_answer(root: Path, service: str) -> None:
    port = int(service.rsplit(":", 1)[1])
    chosen = stack.StackPlan(**{**plan(root).__dict__, "port": port})
    console = FakeConsole()

    answer = stack.greet(chosen, stack.UpResult(True, 4.2, ""), console)

    assert answer.text == "Hi there"
    assert console.lines[0].startswith(f"[green]healthy in 4.2 s[/green]: {service}")
    assert console.lines[1].startswith(f"try: curl -s {service}/generate")
    assert console.lines[2] == "answer through the proxy: Hi there"


@pytest.mark.parametrize(
    "service",
    [(502, {"error": {"code": "upstream_auth_failed", "message": "bad key"}})],
    indirect=True,
)
def test_greet_fails_when_the_first_answer_is_an_error(root: Path, service: str) -> None:
    port = int(service.rsplit(":", 1)[1])
    chosen = stack.StackPlan(**{**plan(root).__dict__, "port": port})
    with pytest.raises(StackError, match="answered 502: upstream_auth_failed: bad key"):
        stack.greet(chosen, stack.UpResult(True, 1.0, ""), FakeConsole())


@pytest.mark.parametrize("service", [(200, b"<html>not json</html>")], indirect=True)
def test_ask_survives_a_non_json_answer(service: str) -> None:
    answer = stack.ask(service)
    assert answer.status == 200
    assert answer.body["error"]["code"] == "not_json"


def test_ask_without_a_listener_is_a_stack_error() -> None:
    with pytest.raises(StackError, match="no answer from"):
        stack.ask(f"http://127.0.0.1:{free_port()}", timeout=2)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_compose_down_runs_down_with_volumes_on_request(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("removed", 0)
    result = stack.compose_down(root, "gs-unit", volumes=True)
    assert result.returncode == 0
    assert calls == [["down", "--remove-orphans", "--timeout", "10", "--volumes"]]


def test_diagnosis_names_but_does_not_blame_services_that_never_started() -> None:
    proxy = stack.state_from_attrs(
        inspect_data("api-proxy", health="unhealthy", probe_output="curl: (7)"), ["emerg"]
    )
    app = stack.state_from_attrs(inspect_data("gemini-app", "created", None), [])
    report = stack.diagnose([proxy, app])
    assert "✗ api-proxy: unhealthy" in report
    assert "✗ gemini-app" not in report
    assert "not started, waiting for the above: gemini-app" in report


# ----------------------------------------------------------------- the tasks, kept thin


@pytest.fixture(scope="module")
def tasks() -> Any:
    """tasks.py as a module, loaded by path like invoke does."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "tasks.py"
    spec = importlib.util.spec_from_file_location("tasks_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task_context(tasks: Any, run: dict[Any, Result] | None = None) -> MockContext:
    stack_config = {**tasks.CONFIG["stack"], "project": "p9"}
    return MockContext(
        config=Config(overrides={**tasks.CONFIG, "stack": stack_config}), run=run or {}
    )


def test_logs_task_follows_one_service_of_the_configured_project(tasks: Any) -> None:
    c = task_context(tasks, {re.compile(r"^docker compose -p p9 .* logs"): Result("")})
    tasks.logs(c, service="gemini-app", follow=True)
    (command,) = [call.args[0] for call in c.run.call_args_list]
    assert command.endswith("logs --tail 200 --follow gemini-app")


def test_up_without_build_names_the_missing_images(
    tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "engine_client", lambda: FakeClient([]))
    with pytest.raises(Exit, match=r"missing gemini-service:sha-.*invoke build"):
        tasks.up(task_context(tasks), no_build=True)


def test_ps_task_says_how_to_start_a_stack_that_is_not_running(
    tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "engine_client", lambda: FakeClient([]))
    with pytest.raises(Exit, match="stack p9 is not running: start it with `invoke up`"):
        tasks.ps(task_context(tasks))
