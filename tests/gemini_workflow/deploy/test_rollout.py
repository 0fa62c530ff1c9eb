"""Watching a deploy converge, telling a rollback from a success, the deploy history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gemini_workflow.deploy import rollout
from gemini_workflow.deploy.history import History
from gemini_workflow.deploy.plan import NGINX_FILES, DeployPlan
from gemini_workflow.deploy.swarm import ServiceStatus
from gemini_workflow.release import ImageReference
from gemini_workflow.stack import ApiKey

STARTED = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
NEW = ImageReference.parse("127.0.0.1:5000/a/app@sha256:" + "2" * 64)
OLD = "127.0.0.1:5000/a/app@sha256:" + "1" * 64


def plan(tmp_path: Path) -> DeployPlan:
    return DeployPlan(
        stack="gs",
        root=tmp_path,
        app=NEW,
        fake_image="fake:1",
        proxy_image="nginx:1",
        upstream="http://fake-gemini:8001",
        key=None,
        client_keys=tmp_path / "keys",
        env_file=tmp_path / "prod.env",
        port=8080,
        replicas=2,
        rate="5r/s",
        burst=10,
    )


def app(state: str = "", started: datetime | None = None, image: str = str(NEW)) -> ServiceStatus:
    return ServiceStatus("gs_gemini-app", image, 2, 2, state, "msg", "new", started)


def test_an_unchanged_service_is_settled_once_its_tasks_run(tmp_path: Path) -> None:
    unchanged = {"gs_gemini-app": "new"}  # the same task template as before the deploy
    assert rollout.settle(plan(tmp_path), app(), STARTED, unchanged)
    starting = ServiceStatus("gs_gemini-app", str(NEW), 1, 2, "", "", "new", None)
    assert not rollout.settle(plan(tmp_path), starting, STARTED, unchanged)


def test_a_changed_service_waits_for_the_update_this_deploy_started(tmp_path: Path) -> None:
    before = {"gs_gemini-app": "old"}
    earlier = STARTED - timedelta(minutes=5)
    later = STARTED + timedelta(seconds=1)
    chosen = plan(tmp_path)
    assert not rollout.settle(chosen, app("completed", earlier), STARTED, before)  # not ours
    assert not rollout.settle(chosen, app("updating", later), STARTED, before)
    assert rollout.settle(chosen, app("completed", later), STARTED, before)


def test_a_rollback_of_this_deploy_names_the_failed_and_the_serving_release(
    tmp_path: Path,
) -> None:
    later = STARTED + timedelta(seconds=1)
    rolled_back = app("rollback_completed", later, image=OLD)  # template "new" is back to...
    with pytest.raises(rollout.DeployError) as caught:  # ...what it was before the deploy
        rollout.settle(plan(tmp_path), rolled_back, STARTED, {"gs_gemini-app": "new"})
    message = str(caught.value)
    assert f"release {NEW} failed its health check" in message
    assert f"the previous release {OLD} is serving" in message


def test_a_rollback_of_another_service_says_which_one(tmp_path: Path) -> None:
    proxy = ServiceStatus(
        "gs_api-proxy", "nginx:1", 1, 1, "rollback_completed", "m", "new", STARTED
    )
    with pytest.raises(rollout.DeployError, match="updating api-proxy failed"):
        rollout.settle(plan(tmp_path), proxy, STARTED, {"gs_api-proxy": "old"})


def test_the_progress_line_shows_each_service_and_updates() -> None:
    statuses = [
        ServiceStatus("gs_api-proxy", "n", 1, 1),
        ServiceStatus("gs_gemini-app", "a", 1, 2, "updating"),
    ]
    assert rollout.progress_line(statuses) == "api-proxy 1/1, gemini-app 1/2 (updating)"
    assert rollout.progress_line([]) == "creating services"


def test_the_history_remembers_releases_and_the_one_before(tmp_path: Path) -> None:
    history = History.load(tmp_path / "history.json")
    assert history.previous is None
    for ref in ("a", "b", "b", "c"):
        history.record(ref)
    history.options = {"port": 9090}
    history.save()
    again = History.load(tmp_path / "history.json")
    assert (again.releases, again.previous, again.options) == (["a", "b", "c"], "b", {"port": 9090})


def test_the_history_keeps_the_last_ten(tmp_path: Path) -> None:
    history = History(tmp_path / "h.json")
    for n in range(15):
        history.record(str(n))
    assert history.releases == [str(n) for n in range(5, 15)]


def test_the_status_table_has_a_row_per_service() -> None:
    table = rollout.status_table([app(), ServiceStatus("gs_api-proxy", "n", 1, 1)])
    assert table.row_count == 2


def test_a_deploy_with_a_real_key_removes_its_copy_and_prunes_by_the_names_it_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain key copy goes as soon as swarm holds the secret; nothing hashes it again."""
    for path in NGINX_FILES.values():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path.name)
    chosen = replace(
        plan(tmp_path),
        upstream="https://generativelanguage.googleapis.com",
        key=ApiKey("GEMINI_API_KEY", "real-key"),
    )
    deployed: list[dict[str, str]] = []
    pruned: list[set[str]] = []

    def run_cli(_command: list[str], env: dict[str, str]) -> None:
        assert Path(env["GEMINI_API_KEY_FILE"]).read_text() == "real-key\n"
        deployed.append(env)

    monkeypatch.setattr(rollout, "check_preconditions", lambda *_: None)
    monkeypatch.setattr(rollout.swarm, "require_manager", lambda _client: False)
    monkeypatch.setattr(rollout.swarm, "statuses", lambda *_: [])
    monkeypatch.setattr(rollout.swarm, "run_cli", run_cli)
    monkeypatch.setattr(rollout, "converge", lambda *_, **__: [])
    monkeypatch.setattr(rollout.swarm, "remove_unused", lambda _c, _s, names: pruned.append(names))

    rollout.deploy(chosen, object(), timeout=1)

    (env,) = deployed
    assert not chosen.key_file().exists()
    assert pruned == [
        {
            env["GEMINI_API_KEY_SECRET"],
            env["GEMINI_CLIENT_KEYS_SECRET"],
            env["GEMINI_NGINX_CONF_CONFIG"],
            env["GEMINI_NGINX_START_CONFIG"],
        }
    ]


def test_a_deploy_that_fails_before_swarm_holds_the_secret_still_removes_the_key_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Naming the secrets reads files; when one is missing, no plain key stays behind."""
    chosen = replace(
        plan(tmp_path),
        upstream="https://generativelanguage.googleapis.com",
        key=ApiKey("GEMINI_API_KEY", "real-key"),
    )  # no nginx files written: naming their configs fails
    monkeypatch.setattr(rollout, "check_preconditions", lambda *_: None)
    monkeypatch.setattr(rollout.swarm, "require_manager", lambda _client: False)
    monkeypatch.setattr(rollout.swarm, "statuses", lambda *_: [])

    with pytest.raises(FileNotFoundError):
        rollout.deploy(chosen, object(), timeout=1)

    assert not chosen.key_file().exists()
