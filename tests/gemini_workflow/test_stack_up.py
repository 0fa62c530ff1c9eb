"""Starting a plan: port checks, the health wait, failure reports, cleanup, the greeting."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from gemini_workflow import diagnosis, stack, stack_up
from gemini_workflow.compose import Progress, UpResult
from gemini_workflow.stack import StackError
from tests.gemini_workflow.stack_support import (
    IMAGES,
    FakeClient,
    FakeConsole,
    FakeContainer,
    answering,
    inspect_data,
    plan,
    proxy_container,
)


def test_port_published_by_our_own_proxy_is_not_a_conflict(root: Path) -> None:
    client = FakeClient([proxy_container("gs-unit")])
    assert stack_up.port_conflict(client, plan(root)) is None
    assert client.containers.filters == [{"publish": "18080"}]


def test_port_published_by_another_project_names_it(root: Path) -> None:
    message = stack_up.port_conflict(FakeClient([proxy_container("other")]), plan(root))
    assert message is not None
    assert "gs-api-proxy-1 of compose project other" in message
    assert "--port 18081" in message


def test_port_held_by_a_plain_process_is_a_conflict(root: Path) -> None:

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        chosen = stack.StackPlan(**{**plan(root).__dict__, "port": port})
        message = stack_up.port_conflict(FakeClient([]), chosen)
    assert message is not None
    assert "in use by another process" in message


def test_missing_images_lists_only_the_absent_ones() -> None:
    client = FakeClient([], images=frozenset({IMAGES.app}))
    assert stack_up.missing_images(client, [IMAGES.app, IMAGES.fake]) == [IMAGES.fake]


@pytest.mark.parametrize(
    ("missing", "target"),
    [([IMAGES.app, IMAGES.fake], "all"), ([IMAGES.app], "app"), ([IMAGES.fake], "fake")],
)
def test_build_target_builds_exactly_what_is_missing(missing: list[str], target: str) -> None:
    assert stack_up.build_target(IMAGES, missing) == target


def test_up_success_reports_progress_and_returns_the_time(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("all healthy", 0)
    console = FakeConsole()
    client = FakeClient([FakeContainer(inspect_data("gemini-app", health="starting"))])

    result = stack_up.start(plan(root), client, timeout=30, progress=show(console))

    assert result.ok
    assert result.seconds > 0
    assert "all healthy" in result.output
    assert calls[0][:4] == ["up", "--detach", "--wait", "--wait-timeout"]
    assert any("gemini-app starting" in line for line in console.updates)


def test_up_failure_diagnoses_removes_the_stack_and_the_key(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("container gs-gemini-app-1 is unhealthy", 1)
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    failing = FakeContainer(
        inspect_data("gemini-app", health="unhealthy", probe_output="refused"), b"boom\n"
    )

    with pytest.raises(StackError) as caught:
        stack_up.start(chosen, FakeClient([failing]), timeout=30)

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
        stack_up.start(plan(root), FakeClient([]), timeout=30, keep_on_failure=True)

    assert [call[0] for call in calls] == ["up"]


def test_up_refuses_a_taken_port_before_starting_anything(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("", 0)
    with pytest.raises(StackError, match="compose project other"):
        stack_up.start(plan(root), FakeClient([proxy_container("other")]), timeout=5)
    assert calls == []


def test_greet_prints_url_curl_and_the_answer(root: Path) -> None:
    with answering(200, {"text": "Hi there"}) as service:
        port = int(service.rsplit(":", 1)[1])
        chosen = stack.StackPlan(**{**plan(root).__dict__, "port": port})
        console = FakeConsole()

        answer = stack_up.greet(chosen, UpResult(True, 4.2, ""), console)

        assert answer.text == "Hi there"
        assert console.lines[0].startswith(f"[green]healthy in 4.2 s[/green]: {service}")
        assert console.lines[1].startswith(f"try: curl -s {service}/generate")
        assert console.lines[2] == "answer through the proxy: Hi there"


def test_greet_fails_when_the_first_answer_is_an_error(root: Path) -> None:
    bad_key = {"error": {"code": "upstream_auth_failed", "message": "bad key"}}
    with answering(502, bad_key) as service:
        port = int(service.rsplit(":", 1)[1])
        chosen = stack.StackPlan(**{**plan(root).__dict__, "port": port})
        with pytest.raises(StackError, match="answered 502: upstream_auth_failed: bad key"):
            stack_up.greet(chosen, UpResult(True, 1.0, ""), FakeConsole())


def show(console: FakeConsole) -> Progress:
    """The progress callback `invoke up` passes, writing into a recording console."""
    return lambda states, elapsed: console.updates.append(
        diagnosis.progress_line(states, elapsed, 30)
    )


def test_with_client_keys_the_probe_sends_one_and_the_hint_shows_none(root: Path) -> None:
    keys = root / ".local" / "client-keys"
    keys.parent.mkdir()
    keys.write_text("k-123\n")
    chosen = dataclasses.replace(plan(root), client_keys=keys)
    assert stack_up.request_headers(chosen) == (
        {"Authorization": "Bearer k-123"},
        {"Authorization": "Bearer $(head -1 .local/client-keys)"},
    )
    assert stack_up.request_headers(plan(root)) == (None, None)
