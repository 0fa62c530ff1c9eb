"""The compose harness: its command line, its up with progress, down, and container states."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gemini_workflow.compose import COMPOSE_FILE, PUBLISH_ALL, ComposeProject
from gemini_workflow.diagnosis import PROJECT_LABEL
from tests.gemini_workflow.stack_support import FakeClient, FakeContainer, inspect_data


def test_the_command_names_the_project_the_compose_file_and_each_overlay(root: Path) -> None:
    project = ComposeProject("p1", root=root, overlays=(PUBLISH_ALL,))
    assert project.command("ps") == [
        "docker",
        "compose",
        "-p",
        "p1",
        "-f",
        str(root / COMPOSE_FILE),
        "-f",
        str(root / PUBLISH_ALL),
        "ps",
    ]


def test_up_waits_for_health_and_reports_each_poll(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("all healthy", 0)
    seen: list[list[str]] = []
    client = FakeClient([FakeContainer(inspect_data("gemini-app", health="starting"))])

    result = ComposeProject("p1", root=root).up(
        30, client, lambda states, elapsed: seen.append([s.status for s in states])
    )

    assert (result.ok, "all healthy" in result.output) == (True, True)
    assert calls[0] == ["up", "--detach", "--wait", "--wait-timeout", "30", "--remove-orphans"]
    assert ["starting"] in seen


def test_a_failed_up_returns_compose_s_output(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    fake_compose("container p1-gemini-app-1 is unhealthy", 1)
    result = ComposeProject("p1", root=root).up(30)
    assert not result.ok
    assert "is unhealthy" in result.output


def test_states_reads_every_container_of_the_project_sorted() -> None:
    client = FakeClient(
        [
            FakeContainer(inspect_data("gemini-app", health="starting"), b"a\nb\n"),
            FakeContainer(inspect_data("api-proxy")),
        ]
    )
    states = ComposeProject("gs-unit").states(client, log_lines=5)
    assert [s.service for s in states] == ["api-proxy", "gemini-app"]
    assert states[1].log_tail == ("a", "b")
    assert client.containers.filters == [{"label": f"{PROJECT_LABEL}=gs-unit"}]


def test_down_removes_orphans_and_volumes_on_request(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    calls = fake_compose("removed", 0)
    result = ComposeProject("gs-unit", root=root).down(volumes=True)
    assert result.returncode == 0
    assert calls == [["down", "--remove-orphans", "--timeout", "10", "--volumes"]]


def test_a_failing_command_raises_with_compose_s_own_words(
    root: Path, fake_compose: Callable[[str, int], list[list[str]]]
) -> None:
    import pytest

    from gemini_workflow.compose import ComposeError

    fake_compose("no such service: nope", 1)
    with pytest.raises(ComposeError, match="`docker compose port nope 1` failed"):
        ComposeProject("gs-unit", root=root).url("nope", 1)


def test_up_returns_as_soon_as_compose_exits_not_at_the_next_poll(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ComposeProject, "command", lambda self, *args: ["sleep", "0.1"])

    result = ComposeProject("p1", root=root).up(30)

    assert result.ok
    assert result.seconds < 0.4  # the poll interval is 0.5 s: the bench times `up` with this


def test_spawn_starts_the_command_with_the_project_s_variables(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, ...]] = []

    def command(self: ComposeProject, *args: str) -> list[str]:
        seen.append(args)
        return [sys.executable, "-c", "import os; print(os.environ['GEMINI_X'])"]

    monkeypatch.setattr(ComposeProject, "command", command)
    project = ComposeProject("p1", env={"GEMINI_X": "from-the-plan"}, root=root)
    process = project.spawn("watch", "--no-up", stdout=subprocess.PIPE)
    output, _ = process.communicate(timeout=30)
    assert (process.returncode, output.strip()) == (0, "from-the-plan")
    assert seen == [("watch", "--no-up")]
