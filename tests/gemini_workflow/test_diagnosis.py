"""Container states and failure reports, from `docker inspect` data: no engine needed."""

from __future__ import annotations

import pytest

from gemini_workflow import diagnosis
from gemini_workflow.diagnosis import ServiceState
from tests.gemini_workflow.stack_support import inspect_data


def test_state_reads_health_last_probe_and_ports() -> None:
    state = diagnosis.state_from_attrs(
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
    state = diagnosis.state_from_attrs(inspect_data("gemini-app", "exited", None, exit_code=3))
    assert state.status == "exited (3)"
    assert not state.ok


def test_running_container_without_healthcheck_is_ok() -> None:
    assert diagnosis.state_from_attrs(inspect_data("x", health=None)).ok


def test_diagnosis_names_the_failed_service_with_probe_and_logs() -> None:
    healthy = diagnosis.state_from_attrs(inspect_data("api-proxy"), ["proxy noise"])
    failed = diagnosis.state_from_attrs(
        inspect_data("gemini-app", "restarting", None, exit_code=1, restarts=4),
        ["Traceback", "SettingsError: GEMINI_TEMPERATURE: must be a number"],
    )
    report = diagnosis.diagnose([healthy, failed], "Container gs-gemini-app-1  Error\nexit 1\n")
    assert "✗ gemini-app: restarting" in report
    assert "restarted 4 time(s)" in report
    assert "GEMINI_TEMPERATURE" in report
    assert "api-proxy" not in report  # healthy services are not blamed
    assert "proxy noise" not in report
    assert "docker compose said:" in report
    assert "exit 1" in report


def test_diagnosis_shows_last_health_output_of_unhealthy_service() -> None:
    failed = diagnosis.state_from_attrs(
        inspect_data("fake-gemini", health="unhealthy", probe_output="HTTP 500 from /health"), []
    )
    report = diagnosis.diagnose([failed])
    assert "last health check output:" in report
    assert "HTTP 500 from /health" in report
    assert "(no log output)" in report


def test_diagnosis_without_containers_falls_back_to_compose_output() -> None:
    report = diagnosis.diagnose([], "Error response from daemon: No such image: gemini-service:9\n")
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
def test_known_compose_failures_get_advice(output: str, advice: str) -> None:
    explanation = diagnosis.explain_compose_failure(output, 18080)
    assert explanation is not None
    assert advice in explanation


def test_unknown_compose_failure_gets_no_made_up_advice() -> None:
    assert diagnosis.explain_compose_failure("something odd", 18080) is None


def test_service_state_status_words() -> None:
    assert ServiceState("a", "c", "running", "starting", 0, 0).status == "starting"
    assert ServiceState("a", "c", "created", None, 0, 0).status == "created"


def test_progress_line_lists_each_service_state() -> None:
    states = [diagnosis.state_from_attrs(inspect_data("api-proxy", health="starting"))]
    assert diagnosis.progress_line(states, 3.2, 120) == (
        "waiting for healthy (3/120 s): api-proxy starting"
    )
    assert "creating containers" in diagnosis.progress_line([], 0, 120)


def test_status_table_has_a_row_per_service() -> None:
    states = [
        diagnosis.state_from_attrs(inspect_data(name)) for name in ("api-proxy", "gemini-app")
    ]
    assert diagnosis.status_table(states).row_count == 2


def test_compose_verdict_is_composes_last_line() -> None:
    assert (
        diagnosis.compose_verdict("a\n container x is unhealthy \n\n") == "container x is unhealthy"
    )
    assert diagnosis.compose_verdict("") == "docker compose gave no reason"


def test_diagnosis_names_but_does_not_blame_services_that_never_started() -> None:
    proxy = diagnosis.state_from_attrs(
        inspect_data("api-proxy", health="unhealthy", probe_output="curl: (7)"), ["emerg"]
    )
    app = diagnosis.state_from_attrs(inspect_data("gemini-app", "created", None), [])
    report = diagnosis.diagnose([proxy, app])
    assert "✗ api-proxy: unhealthy" in report
    assert "✗ gemini-app" not in report
    assert "not started, waiting for the above: gemini-app" in report
