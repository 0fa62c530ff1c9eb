"""The engine bootstrap installs: Debian testing's Docker, unpacked beside dpkg's files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from invoke.context import MockContext
from invoke.runners import Result

from gemini_workflow import engine


def test_the_daemon_runs_from_the_unpacked_directory_on_the_classic_image_store() -> None:
    config = engine.daemon_config()
    assert config["userland-proxy-path"] == str(engine.ROOT_DIR / "usr/sbin/docker-proxy")
    assert config["init-path"] == "/usr/bin/tini-static"
    assert config["features"] == {"containerd-snapshotter": False}


def test_dockerd_starts_detached_with_its_own_binaries_first_on_path() -> None:
    command = engine.start_command()
    assert command.startswith(f"setsid nohup env PATH={engine.ROOT_DIR}/usr/bin:")
    assert f"dockerd --config-file {engine.DAEMON_JSON}" in command
    assert command.endswith(f"> {engine.LOG} 2>&1 < /dev/null &")


def test_install_adds_only_missing_host_packages_and_unpacks_testing_s_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "DAEMON_JSON", tmp_path / "daemon.json")
    c = MockContext(
        run={
            re.compile(r"^dpkg -s (runc|iptables)"): Result(),
            re.compile(r"^dpkg -s tini"): Result(exited=1),
            re.compile(r"^apt-get update -qq && .*install -y -qq tini$"): Result(),
            re.compile(r"^apt-get -qq -o Dir::Etc::SourceList"): Result(),
            re.compile(r"^dpkg-deb -x"): Result(),
        },
        repeat=True,
    )
    engine.install(c, with_cli=False)
    ran = [call.args[0] for call in c.run.call_args_list]
    downloads = [cmd.split(" download ", 1)[1] for cmd in ran if " download " in cmd]
    assert downloads == ["docker.io containerd"]  # one index update for both
    unpacked = [re.search(r"/([^/ ]+)_\*\.deb ", cmd) for cmd in ran if "dpkg-deb -x" in cmd]
    assert [match.group(1) for match in unpacked if match] == ["docker.io", "containerd"]
    assert all("forky main" not in cmd for cmd in ran)  # sources live in a file, not argv
    assert json.loads((tmp_path / "daemon.json").read_text()) == engine.daemon_config()


def test_without_a_docker_cli_testing_s_cli_is_unpacked_and_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "DAEMON_JSON", tmp_path / "daemon.json")
    c = MockContext(run={re.compile(".*"): Result()}, repeat=True)
    engine.install(c, with_cli=True)
    ran = [call.args[0] for call in c.run.call_args_list]
    assert any(cmd.endswith(" download docker.io containerd docker-cli") for cmd in ran)
    assert ran[-1] == f"ln -sf {engine.ROOT_DIR}/usr/bin/docker /usr/local/bin/docker"


def test_another_release_than_the_tested_one_is_noted() -> None:
    assert engine.tested_note("28.5.2+dfsg4") == ""
    assert engine.tested_note("29.1.0+dfsg1") == (
        " (Debian testing now carries 29.1.0+dfsg1; this project was tested with 28.5)"
    )
