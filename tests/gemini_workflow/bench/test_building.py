"""Builds as `invoke build` makes them, in a copy of the tree, and the run's own images."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import config, docker_engine
from gemini_workflow.bench import building
from gemini_workflow.bench.building import BuildSetup
from tests.gemini_workflow.bench.support import SETUP, FakeEngine, FakeImage, make_run


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_the_context_copy_has_tracked_and_new_files_and_the_wheelhouse(tmp_path: Path) -> None:
    root, copy = tmp_path / "repo", tmp_path / "copy"
    (root / "src").mkdir(parents=True)
    (root / "src" / "tracked.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("build/\nignored.txt\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    (root / "new.py").write_text("new\n")
    (root / "ignored.txt").write_text("not in the context\n")
    (root / "build" / "wheelhouse").mkdir(parents=True)
    (root / "build" / "wheelhouse" / "a.whl").write_bytes(b"wheel")

    building.copy_context(root, copy)

    assert (copy / "src" / "tracked.py").read_text() == "x = 1\n"
    assert (copy / "new.py").is_file()
    assert not (copy / "ignored.txt").exists()
    assert (copy / "build" / "wheelhouse" / "a.whl").read_bytes() == b"wheel"


def test_a_source_edit_appends_to_the_copy_only(tmp_path: Path) -> None:
    (tmp_path / building.EDITED_SOURCE).parent.mkdir(parents=True)
    (tmp_path / building.EDITED_SOURCE).write_text("VERSION = 1\n")

    building.edit_source(tmp_path, "r1-0")
    building.edit_source(tmp_path, "r1-1")

    text = (tmp_path / building.EDITED_SOURCE).read_text()
    assert text.startswith("VERSION = 1\n")
    assert text.count("# bench edit r1-") == 2  # each edit changes the file again


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The commands docker_engine runs, each succeeding, after the tools were checked once
    (as `build_setup` does before anything is timed)."""
    seen: list[list[str]] = []

    def run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(docker_engine.subprocess, "run", run)
    monkeypatch.setattr(docker_engine.shutil, "which", lambda _name: "/usr/bin/docker")
    docker_engine.require_buildx.cache_clear()
    docker_engine.require_buildx()
    seen.clear()
    yield seen
    docker_engine.require_buildx.cache_clear()


def test_build_times_invoke_builds_command_line_alone(commands: list[list[str]]) -> None:
    seconds = building.build(SETUP, Path("/ctx"), tag="t:1", no_cache=True)

    (command,) = commands  # no buildx probe inside the timing
    assert seconds >= 0
    assert command[:5] == ["docker", "buildx", "build", "--progress", "plain"]
    assert command[command.index("--file") + 1] == "/ctx/containers/Dockerfile"
    assert command[command.index("--target") + 1] == "app"
    assert {"--no-cache", "--load"} <= set(command)
    assert command[command.index("--network") + 1] == "none"  # offline, like invoke build
    assert "PYTHON_BASE=base:1" in command
    assert command[-1] == "/ctx"


def test_the_naive_build_installs_from_the_wheelhouse_it_copied(commands: list[list[str]]) -> None:
    building.build_naive(SETUP, Path("/ctx"), tag="t:2")
    online = BuildSetup("base:1", "nginx:1", {"PYTHON_BASE": "base:1"}, offline=False)
    building.build_naive(online, Path("/ctx"), tag="t:3")

    offline_cmd, online_cmd = commands
    assert "/ctx/containers/bench/naive.Dockerfile" in offline_cmd
    assert offline_cmd[offline_cmd.index("--target") + 1] == "naive"
    assert f"INDEX_OPTIONS={building.NAIVE_INDEX_OPTIONS}" in offline_cmd
    assert "--no-cache" not in offline_cmd
    assert not any(part.startswith("INDEX_OPTIONS") for part in online_cmd)
    assert "--network" not in online_cmd


def test_build_setup_follows_the_project_config(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[bool] = []
    monkeypatch.setattr(docker_engine, "require_buildx", lambda: checked.append(True))

    setup = building.build_setup()
    settings = config.load()

    assert checked == [True]  # the tools are checked once, before anything is timed
    assert setup.python_base == setup.args["PYTHON_BASE"] == settings["images"]["python"]
    assert setup.proxy_image == settings["images"]["nginx"]
    assert setup.offline is bool(settings["offline"])
    assert setup.args["REVISION"]


def test_the_runs_images_are_built_once_and_tagged_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine()
    built: list[tuple[str, str, Path]] = []

    def fake_build(_setup: BuildSetup, context: Path, *, tag: str, target: str) -> float:
        built.append((tag, target, context))
        engine.images.by_tag[tag] = FakeImage()
        return 1.0

    monkeypatch.setattr(building, "build", fake_build)
    run = make_run(tmp_path, engine)

    first = building.stack_images(run, SETUP)
    second = building.stack_images(run, SETUP)

    assert first == second
    assert (first.app, first.fake, first.proxy) == (
        "gemini-bench:r1-app",
        "gemini-bench:r1-fake",
        "nginx:1",
    )
    assert built == [(first.app, "app", run.root), (first.fake, "fake", run.root)]
    run.close()
    assert set(engine.removed) == {first.app, first.fake}
