"""`invoke dev` without an engine: the plan, the overlay's promises, signals, the loop's end.

The loop itself runs against stand-ins: `docker compose` commands are small Python scripts
(a watch that prints "Watch enabled" and waits for SIGINT, a config that prints JSON), and
the stack's start and stop are recorded instead of run.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gemini_workflow import dev, docker_engine, images, probe, stack_up
from gemini_workflow.compose import ComposeError, ComposeProject, UpResult
from gemini_workflow.config import ROOT
from gemini_workflow.dev_watch import WatchStopped
from gemini_workflow.stack import StackError, StackPlan
from tests.gemini_workflow.stack_support import FakeClient, FakeConsole, plan

INFO = images.SourceInfo("1.2.3", "a" * 40, False, "2026-01-01T00:00:00Z", "", "", 1)


def request(offline: bool) -> images.BuildRequest:
    base = "gemini-local/python:3.11" if offline else "python:3.11-slim@sha256:00"
    return images.BuildRequest(root=ROOT, name="gemini-service", python_base=base, offline=offline)


# ------------------------------------------------------------------------------- plan


def test_the_plan_is_up_s_plan_plus_the_overlay_and_a_dev_tag_of_its_own(root: Path) -> None:
    chosen = dev.plan(plan(root), request(offline=False), INFO)
    assert chosen.stack.overlays == (dev.OVERLAY,)
    assert chosen.image == "gemini-service:dev-gs-unit"
    assert chosen.stack.images == plan(root).images  # the same images start
    env = chosen.stack.compose_env()
    assert env["GEMINI_DEV_APP_IMAGE"] == chosen.image
    assert env["GEMINI_DEV_PYTHON_BASE"] == "python:3.11-slim@sha256:00"
    assert "GEMINI_DEV_WHEELHOUSE" not in env
    assert "GEMINI_DEV_BUILD_NETWORK" not in env


def test_offline_the_rebuild_uses_invoke_build_s_offline_inputs(root: Path) -> None:
    env = dev.plan(plan(root), request(offline=True), INFO).stack.compose_env()
    assert env["GEMINI_DEV_WHEELHOUSE"] == "local"
    assert env["GEMINI_DEV_INDEX_OPTIONS"] == images.OFFLINE_INDEX_OPTIONS
    assert env["GEMINI_DEV_BUILD_NETWORK"] == "none"


# ---------------------------------------------------------------------------- overlay


@pytest.fixture(scope="module")
def overlay() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / dev.OVERLAY).read_text())
    return loaded


def test_only_the_app_is_changed_and_only_where_the_loop_needs_it(
    overlay: dict[str, Any],
) -> None:
    assert set(overlay["services"]) == {dev.APP}
    app = overlay["services"][dev.APP]
    assert app["read_only"] is False  # the one relaxed hardening (see the overlay's comment)
    # Every other hardening comes from compose.yaml untouched: none of it is overridden here.
    hardening = {"user", "cap_add", "cap_drop", "security_opt", "privileged", "pids_limit"}
    assert not hardening & set(app)
    assert not {"ports", "volumes", "init", "tmpfs", "secrets", "environment"} & set(app)
    assert app["entrypoint"] == [
        "python",
        "--check-hash-based-pycs",
        "always",
        "-m",
        "gemini_service",
    ]


def test_source_is_synced_into_the_installed_package_and_locks_rebuild(
    overlay: dict[str, Any],
) -> None:
    sync, *rebuilds = overlay["services"][dev.APP]["develop"]["watch"]
    assert (ROOT / "compose" / sync["path"]).resolve() == (ROOT / dev.SOURCE).resolve()
    assert sync["action"] == "sync+restart"
    assert sync["initial_sync"] is True
    assert re.fullmatch(
        r"/opt/venv/lib/python\$\{GEMINI_DEV_PYTHON_VERSION:-3\.11\}/site-packages/gemini_service",
        sync["target"],
    )
    assert {(r["path"], r["action"]) for r in rebuilds} == {
        ("../pyproject.toml", "rebuild"),
        ("../uv.lock", "rebuild"),
        ("../containers/requirements.lock", "rebuild"),
    }


def test_every_variable_the_overlay_reads_is_one_the_plan_sets(root: Path) -> None:
    read = set(re.findall(r"\$\{(GEMINI_DEV_[A-Z_]+)", (ROOT / dev.OVERLAY).read_text()))
    offline = dev.plan(plan(root), request(offline=True), INFO).stack.overlay_env
    assert read == set(offline)


# ------------------------------------------------------------------------ watch rules


def test_watch_rules_say_what_each_change_does(root: Path) -> None:
    config = {
        "services": {
            "api-proxy": {"image": "nginx"},
            "gemini-app": {
                "develop": {
                    "watch": [
                        {"path": str(root / "src/x"), "action": "sync+restart", "target": "/t"},
                        {"path": str(root / "pyproject.toml"), "action": "rebuild"},
                    ]
                }
            },
        }
    }
    described = [rule.describe(root) for rule in dev.watch_rules(config)]
    assert described == [
        "src/x: copied into gemini-app (/t), then gemini-app restarts",
        "pyproject.toml: rebuilds gemini-app's image, then recreates gemini-app",
    ]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_uncommitted_source_changes_are_noticed(tmp_path: Path) -> None:
    source = tmp_path / dev.SOURCE
    source.mkdir(parents=True)
    (source / "a.py").write_text("A = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    assert not dev.source_changed(tmp_path)
    (source / "a.py").write_text("A = 2\n")
    assert dev.source_changed(tmp_path)


def test_without_git_the_source_counts_as_changed(tmp_path: Path) -> None:
    assert dev.source_changed(tmp_path / "not-a-repo")


# -------------------------------------------------------------------- deletions in the app


def test_the_package_directories_come_from_the_source_tree(tmp_path: Path) -> None:
    for directory in ("clients/x", "fake", "__pycache__", "fake/__pycache__"):
        (tmp_path / dev.SOURCE / directory).mkdir(parents=True)
    assert dev.source_directories(tmp_path) == ["", "clients", "clients/x", "fake"]


@pytest.mark.parametrize(
    ("user", "parsed"),
    [("10001:10001", (10001, 10001)), ("10001", (10001, 10001)), ("", None), ("0", None),
     ("app", None), ("10001:app", None)],
)  # fmt: skip
def test_only_a_numeric_non_root_user_is_handed_the_directories(
    user: str, parsed: tuple[int, int] | None
) -> None:
    assert dev.container_user(user) == parsed


def test_the_archive_holds_directory_entries_only_owned_by_the_user() -> None:
    data = dev.owner_archive("/opt/site/gemini_service", ["", "fake"], 10001, 10002)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        entries = [(m.name, m.isdir(), m.uid, m.gid, m.mode) for m in archive.getmembers()]
    assert entries == [
        ("opt/site/gemini_service", True, 10001, 10002, 0o755),
        ("opt/site/gemini_service/fake", True, 10001, 10002, 0o755),
    ]


class AppContainer:
    def __init__(self, id: str, status: str = "running", fail: bool = False) -> None:
        self.id, self.fail = id, fail
        self.attrs = {"State": {"Status": status}, "Config": {"User": "10001:10001"}}
        self.archives: list[tuple[str, bytes]] = []

    def put_archive(self, path: str, data: bytes) -> bool:
        if self.fail:
            raise RuntimeError("refused")
        self.archives.append((path, data))
        return True


def owner(monkeypatch: pytest.MonkeyPatch, found: list[Any]) -> tuple[dev.PackageOwner, list[str]]:
    def container(self: ComposeProject, client: Any, service: str) -> Any:
        if not found:
            raise ComposeError("no container")
        return found[0]

    monkeypatch.setattr(ComposeProject, "container", container)
    warnings: list[str] = []
    return dev.PackageOwner(ComposeProject("p"), None, "/t", [""], warnings.append, 0), warnings


def test_each_new_app_container_is_handed_its_directories_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, rebuilt = AppContainer("a"), AppContainer("b")
    found: list[Any] = []
    checking, warnings = owner(monkeypatch, found)
    checking.check()  # no container (being recreated): nothing yet
    found.append(first)
    checking.check()
    checking.check()
    found[0] = rebuilt  # a `rebuild` recreated it
    checking.check()
    assert [len(c.archives) for c in (first, rebuilt)] == [1, 1]
    assert first.archives[0][0] == "/"
    assert warnings == []


def test_a_refused_hand_over_is_a_warning_once_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checking, warnings = owner(monkeypatch, [AppContainer("a", fail=True)])
    checking.check()
    checking.check()
    assert len(warnings) == 1
    assert "deleting a file under src/gemini_service will not reach gemini-app" in warnings[0]


# ------------------------------------------------------------------------------- loop

WATCH_OK = (
    "import signal, sys, time; signal.signal(signal.SIGINT, lambda *_: sys.exit(0));"
    " print('Watch enabled', flush=True); time.sleep(60)"
)
WATCH_DIES = "import sys; print('Watch enabled'); print('boom: bad overlay'); sys.exit(3)"


class StandIns:
    """Records what the loop does to the engine and the stack."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, watch: str, changed: bool) -> None:
        self.calls: list[str] = []
        config = {
            "services": {
                "gemini-app": {
                    "develop": {
                        "watch": [
                            {
                                "path": str(ROOT / dev.SOURCE),
                                "action": "sync+restart",
                                "target": "/t",
                            }
                        ]
                    }
                }
            }
        }
        scripts = {
            "config": f"print({json.dumps(json.dumps(config))})",
            "watch": watch,
            "logs": WATCH_OK.replace("Watch enabled", "app log line"),
        }

        def command(project: ComposeProject, *args: str) -> list[str]:
            self.calls.append(f"compose {args[0]}")
            return [sys.executable, "-c", scripts.get(args[0], "pass")]

        def start(chosen: StackPlan, client: Any, **_: Any) -> UpResult:
            self.calls.append(f"start {chosen.overlays}")
            return UpResult(ok=True, seconds=1.5, output="")

        monkeypatch.setattr(ComposeProject, "command", command)
        monkeypatch.setattr(stack_up, "start", start)
        monkeypatch.setattr(stack_up, "stop", lambda chosen, **_: self.calls.append("stop"))
        monkeypatch.setattr(
            docker_engine, "tag_image", lambda _, src, dst: self.calls.append(f"tag {dst}")
        )
        monkeypatch.setattr(
            docker_engine, "remove_image", lambda _, ref: self.calls.append(f"untag {ref}")
        )
        monkeypatch.setattr(dev, "source_changed", lambda root: changed)
        monkeypatch.setattr(probe, "ask", lambda url, **_: probe.Answer(200, {"text": "hi"}, {}))


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., StandIns]:
    return lambda watch=WATCH_OK, changed=False: StandIns(monkeypatch, watch, changed)


@pytest.fixture
def signal_when_ready() -> Iterator[Callable[[FakeConsole, int], None]]:
    """Send a signal to this process once the loop says it is watching, as Ctrl-C would."""
    threads: list[threading.Thread] = []

    def arm(console: FakeConsole, signum: int) -> None:
        def send() -> None:
            deadline = time.monotonic() + 20
            while not any(dev.READY in line for line in console.lines):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)
            os.kill(os.getpid(), signum)

        threads.append(threading.Thread(target=send, daemon=True))
        threads[-1].start()

    yield arm
    for thread in threads:
        thread.join(timeout=25)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_the_watch_and_removes_stack_and_tag(
    root: Path,
    stand_ins: Callable[..., StandIns],
    signal_when_ready: Callable[[FakeConsole, int], None],
    signum: int,
) -> None:
    recorded = stand_ins()
    console = FakeConsole()
    chosen = dev.plan(plan(root), request(offline=False), INFO)
    signal_when_ready(console, signum)

    dev.run(chosen, FakeClient([]), console, timeout=30)

    assert recorded.calls[:2] == [f"tag {chosen.image}", f"start {(dev.OVERLAY,)}"]
    assert recorded.calls[-2:] == ["stop", f"untag {chosen.image}"]
    assert {"compose watch", "compose logs"} <= set(recorded.calls)
    assert "compose restart" not in recorded.calls  # the source is the commit's
    text = "\n".join(console.lines)
    assert f"{chosen.stack.url}  (docs: {chosen.stack.url}/docs)" in text
    assert "src/gemini_service: copied into gemini-app (/t), then gemini-app restarts" in text
    assert text.endswith("stack gs-unit removed")


def test_uncommitted_changes_restart_the_app_once_the_watch_has_synced_them(
    root: Path,
    stand_ins: Callable[..., StandIns],
    signal_when_ready: Callable[[FakeConsole, int], None],
) -> None:
    recorded = stand_ins(changed=True)
    console = FakeConsole()
    signal_when_ready(console, signal.SIGINT)
    dev.run(dev.plan(plan(root), request(False), INFO), FakeClient([]), console, timeout=30)
    watch, restart = recorded.calls.index("compose watch"), recorded.calls.index("compose restart")
    assert watch < restart


def test_a_watch_that_ends_on_its_own_is_an_error_with_its_words_and_cleans_up(
    root: Path, stand_ins: Callable[..., StandIns]
) -> None:
    recorded = stand_ins(watch=WATCH_DIES)
    chosen = dev.plan(plan(root), request(offline=False), INFO)
    with pytest.raises(WatchStopped, match=r"(?s)watch stopped \(exit 3\).*boom: bad overlay"):
        dev.run(chosen, FakeClient([]), FakeConsole(), timeout=30)
    assert recorded.calls[-2:] == ["stop", f"untag {chosen.image}"]


def test_a_stack_that_does_not_start_fails_as_up_does_and_leaves_no_tag(
    root: Path, stand_ins: Callable[..., StandIns], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = stand_ins()

    def fail(*_: Any, **__: Any) -> UpResult:
        raise StackError("✗ gemini-app: unhealthy")

    monkeypatch.setattr(stack_up, "start", fail)
    chosen = dev.plan(plan(root), request(offline=False), INFO)
    with pytest.raises(StackError, match="gemini-app: unhealthy"):
        dev.run(chosen, FakeClient([]), FakeConsole(), timeout=30)
    assert recorded.calls == [f"tag {chosen.image}", "stop", f"untag {chosen.image}"]


def test_cleanup_tries_every_step_and_says_what_is_left(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise StackError("compose down failed")

    removed: list[str] = []
    monkeypatch.setattr(stack_up, "stop", refuse)
    monkeypatch.setattr(docker_engine, "remove_image", lambda _, ref: removed.append(ref))
    chosen = dev.plan(plan(root), request(offline=False), INFO)
    problems = dev.clean_up(chosen, FakeClient([]))
    assert problems == ["could not remove the stack gs-unit: compose down failed"]
    assert removed == [chosen.image]
