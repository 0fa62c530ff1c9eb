"""Stack decisions and failure reports, from plain values: no engine needed."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

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
    assert chosen.uses_fake
    assert chosen.secret_file() == root / "compose" / "placeholder-api-key.txt"
    assert "fake-gemini" in chosen.summary()
    assert "\n" not in chosen.summary()


def test_key_in_environment_selects_the_real_upstream(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    assert chosen.upstream == REAL
    assert not chosen.uses_fake
    assert chosen.key == ApiKey(origin="GEMINI_API_KEY (the environment)", value="AIza-secret")
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


def test_key_file_is_mounted_directly_without_a_copy(root: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("k\n")
    chosen = plan(root, environ={"GEMINI_API_KEY_FILE": str(key_file)})
    assert chosen.secret_file() == key_file.resolve()
    assert stack.write_secret(chosen) == key_file.resolve()
    assert not chosen.state_dir.exists()


def test_missing_key_file_is_an_error_naming_the_path(root: Path) -> None:
    with pytest.raises(StackError, match=r"/nope/key"):
        stack.find_api_key({"GEMINI_API_KEY_FILE": "/nope/key"}, root / ".env")


def test_test_env_pins_the_fake_even_with_a_real_key(root: Path) -> None:
    chosen = plan(root, env="test", environ={"GEMINI_API_KEY": "real"})
    assert chosen.upstream == FAKE_UPSTREAM
    assert chosen.secret_file().name == "placeholder-api-key.txt"
    assert "pins the upstream" in chosen.summary()


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
    if health is not None:
        state["Health"] = {"Status": health, "Log": [{"Output": "ok"}, {"Output": probe_output}]}
    return {
        "Name": f"/gs-{service}-1",
        "State": state,
        "RestartCount": restarts,
        "Config": {"Labels": {stack.SERVICE_LABEL: service}},
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}},
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
