"""The engine boundary: the exact build command, and clear errors when there is no engine."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from gemini_workflow import docker_engine
from gemini_workflow.errors import WorkflowError

SPEC = docker_engine.BuildSpec(
    context=Path("/repo"),
    dockerfile=Path("/repo/containers/Dockerfile"),
    target="app",
    tags=["svc:1.0", "svc:sha-abc1234"],
    build_args={"VERSION": "1.0", "PYTHON_BASE": "python:3.11"},
)


def test_build_command_loads_one_target_with_tags_and_sorted_args() -> None:
    assert docker_engine.build_command(SPEC) == [
        "docker", "buildx", "build", "--load", "--file", "/repo/containers/Dockerfile",
        "--provenance=false", "--target", "app", "--tag", "svc:1.0", "--tag", "svc:sha-abc1234",
        "--build-arg", "PYTHON_BASE=python:3.11", "--build-arg", "VERSION=1.0", "/repo",
    ]  # fmt: skip


def test_offline_build_has_no_network_and_no_cache_when_asked() -> None:
    spec = docker_engine.BuildSpec(**{**SPEC.__dict__, "network": "none", "no_cache": True})
    command = docker_engine.build_command(spec)
    assert command[-4:] == ["--no-cache", "--network", "none", "/repo"]


def test_unreachable_engine_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(docker_engine.EngineUnavailable, match="invoke bootstrap"):
        docker_engine.connect()


class Completed:
    def __init__(self, returncode: int, stderr: str = "") -> None:
        self.returncode = returncode
        self.stderr = stderr


def fake_run(results: list[Completed], calls: list[list[str]]) -> Any:
    def run(cmd: list[str], **kwargs: Any) -> Completed:
        calls.append(cmd)
        return results.pop(0)

    return run


@pytest.fixture(autouse=True)
def unprobed() -> Iterator[None]:
    """Every test starts in a process that has not probed for buildx yet, and leaves no faked
    probe cached for the tests after it."""
    docker_engine.require_buildx.cache_clear()
    yield
    docker_engine.require_buildx.cache_clear()


def test_missing_buildx_says_run_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(1)], []))
    with pytest.raises(docker_engine.EngineUnavailable, match="buildx plugin is missing"):
        docker_engine.build(SPEC)


def test_failed_quiet_build_shows_the_tail_of_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    output = "\n".join(f"line {i}" for i in range(40)) + "\nERROR: no space left"
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(0), Completed(1, output)], calls))
    with pytest.raises(WorkflowError, match=r"(?s)target `app` failed.*no space left") as error:
        docker_engine.build(SPEC, quiet=True)
    assert "line 5\n" not in str(error.value)  # only the tail
    assert calls[1][3:5] == ["--progress", "plain"]


def test_a_successful_build_runs_the_planned_command_once_after_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(0), Completed(0)], calls))
    docker_engine.build(SPEC)
    assert calls == [["docker", "buildx", "version"], docker_engine.build_command(SPEC)]


def test_the_tools_are_probed_once_a_process_not_before_every_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(0)] * 3, calls))
    docker_engine.build(SPEC)
    docker_engine.build(SPEC, quiet=True)
    assert [call[:3] for call in calls] == [
        ["docker", "buildx", "version"],
        ["docker", "buildx", "build"],
        ["docker", "buildx", "build"],
    ]


def test_failed_pull_raises_with_the_engines_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", fake_run([Completed(1, "no such host")], []))
    with pytest.raises(WorkflowError, match="no such host"):
        docker_engine.pull_image("python:3.11")


class FakeImages:
    def __init__(self, known: dict[str, Any]) -> None:
        self.known = known

    def get(self, ref: str) -> Any:
        if ref not in self.known:
            raise docker.errors.ImageNotFound(ref)
        return self.known[ref]


class FakeAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def history(self, ref: str) -> list[dict[str, Any]]:
        return [{"CreatedBy": "x", "Size": 1}]

    def tag(self, source: str, repository: str, tag: str) -> None:
        self.calls.append(("tag", source, repository, tag))

    def remove_image(self, ref: str, noprune: bool) -> None:
        raise docker.errors.ImageNotFound(ref)


class FakeImage:
    def __init__(self) -> None:
        self.attrs = {"Id": "sha256:1"}

    def save(self, chunk_size: int, named: bool) -> Any:
        return iter([b"a" * chunk_size, b"b"])


class FakeClient:
    def __init__(self) -> None:
        self.images = FakeImages({"svc:1": FakeImage()})
        self.api = FakeAPI()

    def ping(self) -> bool:
        return True


def test_inspect_returns_attrs_or_none_for_a_missing_image() -> None:
    client = FakeClient()
    assert docker_engine.inspect_image(client, "svc:1") == {"Id": "sha256:1"}
    assert docker_engine.inspect_image(client, "svc:2") is None


def test_tagging_splits_at_the_last_colon_so_registry_ports_survive() -> None:
    client = FakeClient()
    docker_engine.tag_image(client, "svc:1", "127.0.0.1:5000/team/svc:1.0")
    assert client.api.calls == [("tag", "svc:1", "127.0.0.1:5000/team/svc", "1.0")]


def test_removing_a_missing_image_is_not_an_error() -> None:
    docker_engine.remove_image(FakeClient(), "svc:gone")


def test_history_and_save_stream_come_from_the_sdk() -> None:
    client = FakeClient()
    assert docker_engine.image_history(client, "svc:1") == [{"CreatedBy": "x", "Size": 1}]
    assert list(docker_engine.save_image(client, "svc:1", chunk_size=2)) == [b"aa", b"b"]


def test_connect_returns_a_client_that_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient()
    monkeypatch.setattr(docker_engine.docker, "from_env", lambda timeout: client)
    assert docker_engine.connect() is client


def test_build_without_a_docker_cli_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_engine.shutil, "which", lambda name: None)
    with pytest.raises(docker_engine.EngineUnavailable, match="not installed"):
        docker_engine.build(SPEC)


class ArchiveContainer:
    """A created container as the SDK shows it: `get_archive` answers a tar of one path."""

    def __init__(self, files: dict[str, bytes], links: dict[str, str]) -> None:
        self.files, self.links, self.removed = files, links, False

    def get_archive(self, path: str) -> tuple[Any, dict[str, Any]]:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(path.rsplit("/", 1)[-1])
            if path in self.links:
                info.type, info.linkname = tarfile.SYMTYPE, self.links[path]
                archive.addfile(info)
            elif path in self.files:
                info.size = len(self.files[path])
                archive.addfile(info, io.BytesIO(self.files[path]))
            else:
                raise docker.errors.NotFound(f"no {path}")
        return iter([buffer.getvalue()]), {}

    def remove(self, force: bool) -> None:
        self.removed = force


def test_image_files_are_read_from_a_never_started_container() -> None:
    container = ArchiveContainer(
        {"/usr/lib/os-release": b"ID=debian\n", "/opt/venv/pyvenv.cfg": b"version = 3.11.2\n"},
        {"/etc/os-release": "../usr/lib/os-release"},
    )
    created: list[dict[str, Any]] = []

    class Containers:
        def create(self, ref: str, **options: Any) -> ArchiveContainer:
            created.append({"ref": ref, **options})
            return container

    client = type("Client", (), {"containers": Containers()})()
    files = docker_engine.read_image_files(
        client, "app:1", ["/etc/os-release", "/opt/venv/pyvenv.cfg", "/missing"]
    )
    assert files == {
        "/etc/os-release": b"ID=debian\n",  # the symlink was followed
        "/opt/venv/pyvenv.cfg": b"version = 3.11.2\n",
        "/missing": None,
    }
    assert created == [{"ref": "app:1", "entrypoint": ["/nonexistent"]}]  # never started
    assert container.removed
