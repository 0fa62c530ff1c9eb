"""The tasks stay thin: they read config, call the workflow, and end failures as Exit."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from invoke.config import Config
from invoke.context import MockContext
from invoke.exceptions import Exit
from invoke.runners import Result

from gemini_workflow import config, docker_engine
from tests.gemini_workflow.stack_support import FakeClient

ROOT = Path(__file__).resolve().parents[2]


def task_context(run: dict[Any, Result] | None = None) -> MockContext:
    settings = copy.deepcopy(config.DEFAULTS)
    settings["stack"]["project"] = "p9"
    return MockContext(config=Config(overrides=settings), run=run or {})


def test_every_task_and_option_has_help(tasks: Any) -> None:
    for name in tasks.ns.task_names:
        task = tasks.ns[name]
        assert task.__doc__, f"{name} has no docstring"
        options = set(task.argspec(task.body).parameters)
        documented = {key.replace("-", "_") for key in task.help}
        assert options <= documented, f"{name}: no help for {options - documented}"


def test_everyday_tasks_are_top_level_and_in_their_namespace(tasks: Any) -> None:
    names = set(tasks.ns.task_names)
    for everyday, namespaced in [
        ("build", "images.build"),
        ("up", "stack.up"),
        ("dev", "stack.dev"),
        ("push", "release.push"),
    ]:
        assert {everyday, namespaced} <= names
    assert {"images.lock", "registry.up", "registry.down"} <= names


def test_logs_task_follows_one_service_of_the_configured_project(tasks: Any) -> None:
    c = task_context({re.compile(r"^docker compose -p p9 .* logs"): Result("")})
    tasks.logs(c, service="gemini-app", follow=True)
    (command,) = [call.args[0] for call in c.run.call_args_list]
    assert command.endswith("logs --tail 200 --follow gemini-app")


def test_up_without_build_names_the_missing_images(
    tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_engine, "connect", lambda timeout=0: FakeClient([]))
    with pytest.raises(Exit, match=r"missing gemini-service:sha-.*invoke build"):
        tasks.up(task_context(), no_build=True)


def test_dev_without_build_names_the_missing_images_before_starting_anything(
    tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_engine, "connect", lambda timeout=0: FakeClient([]))
    with pytest.raises(Exit, match=r"missing gemini-service:sha-.*invoke build"):
        tasks.dev(task_context(), no_build=True)


def test_ps_task_says_how_to_start_a_stack_that_is_not_running(
    tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_engine, "connect", lambda timeout=0: FakeClient([]))
    with pytest.raises(Exit, match="stack p9 is not running: start it with `invoke up`"):
        tasks.ps(task_context())
