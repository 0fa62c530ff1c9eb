"""The run object: the names it hands out, the stacks it plans, and what its close removes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gemini_workflow import config, stack_up
from gemini_workflow.bench.run import BenchRun, Options, write_env_file
from gemini_workflow.compose import PUBLISH_ALL, ComposeProject
from gemini_workflow.stack import FAKE_UPSTREAM, PLACEHOLDER_KEY_FILE, plan_stack, read_env_file
from tests.gemini_workflow.bench.support import IMAGES, FakeEngine, FakeImage, make_run, quiet

FakeCompose = Callable[[str, int], list[list[str]]]


def test_tags_carry_the_run_id_are_handed_out_once_and_removed_on_close(tmp_path: Path) -> None:
    engine = FakeEngine({"gemini-bench:r1-cold0": FakeImage(), "other:1": FakeImage()})
    run = make_run(tmp_path, engine)

    assert run.tag("cold0") == run.tag("cold0") == "gemini-bench:r1-cold0"
    run.tag("never-built")
    run.close()

    assert engine.removed == ["gemini-bench:r1-cold0", "gemini-bench:r1-never-built"]
    assert set(engine.images.by_tag) == {"other:1"}  # nothing that is not the run's
    assert not run.leftovers
    assert not run.workdir.exists()


def test_a_fresh_run_has_its_own_id() -> None:
    one = BenchRun(Options(), quiet(), FakeEngine(), Path("/nonexistent"))
    two = BenchRun(Options(), quiet(), FakeEngine(), Path("/nonexistent"))

    assert len(one.id) == 6
    assert one.id != two.id


def test_remove_container_removes_exactly_that_name(tmp_path: Path) -> None:
    engine = FakeEngine()
    run = make_run(tmp_path, engine)
    first = run.container_name("app1")
    engine.add_container(first)
    engine.add_container(run.container_name("app10"))  # the engine's filter would match it too

    run.remove_container(first)
    run.remove_container("gemini-bench-r1-gone")  # already gone: fine

    assert engine.removed == [first]
    assert [c.name for c in engine.containers.items] == ["gemini-bench-r1-app10"]


def test_close_removes_containers_a_section_left_behind(tmp_path: Path) -> None:
    engine = FakeEngine()
    run = make_run(tmp_path, engine)
    engine.add_container(run.container_name("floor0"))

    run.close()

    assert engine.removed == ["gemini-bench-r1-floor0"]


def test_close_goes_on_after_a_failed_removal_and_says_what_is_left(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.refuse.add("gemini-bench:r1-a")
    run = make_run(tmp_path, engine)
    run.tag("a")
    run.tag("b")

    run.close()

    assert engine.removed == ["gemini-bench:r1-b"]
    assert run.leftovers == [
        "could not remove image gemini-bench:r1-a: conflict: gemini-bench:r1-a is in use"
    ]


def test_a_stack_plan_is_the_projects_stack_with_every_hop_published(tmp_path: Path) -> None:
    run = make_run(tmp_path)

    plan = run.stack_plan("service", IMAGES, {"FAKE_GEMINI_LATENCY_MS": "500"})

    assert plan.project == "gs-bench-r1-service"
    assert plan.overlays == (PUBLISH_ALL,)
    assert plan.bind == "127.0.0.1"
    assert plan.secret_file() == config.ROOT / PLACEHOLDER_KEY_FILE  # never a real key
    assert plan.compose_env()["GEMINI_UPSTREAM"] == FAKE_UPSTREAM
    assert plan.env_file.parent == run.workdir
    assert read_env_file(plan.env_file) == {
        "GEMINI_UPSTREAM": FAKE_UPSTREAM,
        "FAKE_GEMINI_LATENCY_MS": "500",
    }


def test_its_env_file_keeps_the_fake_even_where_a_real_key_is_configured(tmp_path: Path) -> None:
    """`invoke up` in the bench plans from this env file: a key in the shell must not matter."""
    plan = make_run(tmp_path).stack_plan("up0", IMAGES, {"LOG_LEVEL": "debug"})

    invoke_plan = plan_stack(
        root=config.ROOT,
        project=plan.project,
        env=str(plan.env_file),
        port=plan.port,
        bind="127.0.0.1",
        images=IMAGES,
        real_upstream="https://generativelanguage.googleapis.com",
        environ={"GEMINI_API_KEY": "a-real-key"},
    )

    assert invoke_plan.upstream == FAKE_UPSTREAM
    assert not invoke_plan.uses_real_key


def test_a_stack_is_started_by_the_harness_and_removed_after_the_block(
    tmp_path: Path, fake_compose: FakeCompose
) -> None:
    calls = fake_compose("healthy", 0)
    run = make_run(tmp_path)

    seen: list[stack_up.RunningStack] = []

    def section() -> None:
        with run.stack("compose0", IMAGES, {}) as running:
            seen.append(running)
            raise RuntimeError("section broke")

    with pytest.raises(RuntimeError, match="section broke"):
        section()

    (running,) = seen
    assert running.plan.project == "gs-bench-r1-compose0"
    assert running.up_seconds > 0
    assert [call[0] for call in calls] == ["up", "down"]
    assert "--wait" in calls[0]
    run.close()
    assert [call[0] for call in calls] == ["up", "down"]  # not removed twice


def test_restart_rewrites_the_env_file_and_starts_the_same_project(
    tmp_path: Path, fake_compose: FakeCompose
) -> None:
    calls = fake_compose("healthy", 0)
    run = make_run(tmp_path)
    with run.stack("service", IMAGES, {"FAKE_GEMINI_LATENCY_MS": "0"}) as first:
        second = run.restart_stack(first, {"FAKE_GEMINI_LATENCY_MS": "500"})

        assert second.plan == first.plan  # same project, same port
        assert read_env_file(second.plan.env_file)["FAKE_GEMINI_LATENCY_MS"] == "500"
    assert [call[0] for call in calls] == ["up", "up", "down"]


def test_close_removes_a_stack_whose_section_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[str] = []
    monkeypatch.setattr(stack_up, "stop", lambda plan, volumes: stopped.append(plan.project))
    run = make_run(tmp_path)
    run.stack_plan("up0", IMAGES, {})  # e.g. `invoke up` started it, then failed

    run.close()

    assert stopped == ["gs-bench-r1-up0"]


def test_a_stack_that_cannot_be_removed_is_a_leftover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        ComposeProject, "down", lambda self, **_: subprocess.CompletedProcess([], 1)
    )
    run = make_run(tmp_path)
    run.stack_plan("up0", IMAGES, {})

    run.close()

    assert len(run.leftovers) == 1
    assert run.leftovers[0].startswith("could not remove compose project gs-bench-r1-up0")


def test_the_run_is_a_context_manager_that_closes(tmp_path: Path) -> None:
    engine = FakeEngine()
    with make_run(tmp_path, engine) as run:
        run.tag("x")

    assert engine.removed == ["gemini-bench:r1-x"]


def test_environment_records_where_the_figures_come_from(tmp_path: Path) -> None:
    env = make_run(tmp_path).environment()
    head = subprocess.run(
        ["git", "-C", str(config.ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert env["commit"] == head
    assert env["docker"] == "20.10.24"
    assert env["cpus"]
    assert len(env["loadavg_at_start"]) == 3


def test_write_env_file_pins_the_fake_first(tmp_path: Path) -> None:
    path = tmp_path / "x.env"

    write_env_file(path, {"LOG_LEVEL": "info"})

    assert path.read_text() == f"GEMINI_UPSTREAM={FAKE_UPSTREAM}\nLOG_LEVEL=info\n"


def test_deferred_undos_run_once_newest_first_and_a_failure_is_a_leftover(
    tmp_path: Path,
) -> None:
    done: list[str] = []
    run = make_run(tmp_path)
    run.defer("registry", lambda: done.append("registry"))
    now = run.defer("process", lambda: done.append("process"))
    run.defer("stack", lambda: done.append("stack"))

    def broken() -> None:
        raise RuntimeError("still in use")

    run.defer("network n", broken)
    now()
    now()  # undone already: nothing happens
    run.close()

    assert done == ["process", "stack", "registry"]
    assert run.leftovers == ["could not remove network n: still in use"]
    assert run.name("net") == "gemini-bench-r1-net"
