"""The swarm path end to end: deploy by digest, roll under load, roll back, kill a task, remove.

The tests run in order on one stack (module scope): each starts from what the one before left.
Load comes from wrk (the bench's load generator) through the published api-proxy port, and
every request must succeed while a release rolls in or is rolled back.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gemini_workflow import loadgen, wait
from gemini_workflow.deploy import swarm
from tests.deploy.conftest import Deployment, Releases

pytestmark = pytest.mark.engine


class Load:
    """wrk against /generate in a thread, for `seconds`; `result` once joined."""

    def __init__(self, deployment: Deployment, seconds: float) -> None:
        self.result: loadgen.LoadResult | None = None
        self.thread = threading.Thread(target=self._run, args=(deployment, seconds))

    def _run(self, deployment: Deployment, seconds: float) -> None:
        self.result = loadgen.run(
            f"{deployment.url}/generate",
            connections=8,
            threads=2,
            duration_s=seconds,
            method="POST",
            body=json.dumps({"prompt": "load during a deploy"}),
            headers={"Content-Type": "application/json", **deployment.key()},
            timeout_s=10,
        )

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()


def app_image(engine: Any, deployment: Deployment) -> str:
    statuses = swarm.statuses(engine, deployment.stack)
    return next(s.image for s in statuses if s.short_name == "gemini-app")


def assert_no_failed_request(load: Load) -> None:
    assert load.result is not None
    assert load.result.requests > 100, "the load did not run"
    assert load.result.ok == load.result.requests, dict(load.result.statuses)
    assert load.result.socket_errors == 0


@pytest.fixture(scope="module")
def deployed(engine: Any, deployment: Deployment, releases: Releases) -> Iterator[Deployment]:
    loadgen.ensure_wrk()
    try:
        first = deployment.invoke("deploy", "--ref", releases.first, "--port", str(deployment.port))
        assert first.returncode == 0, first.stdout + first.stderr
        yield deployment
    finally:
        deployment.invoke("deploy.down", "--leave")


def test_a_digest_the_registry_lacks_is_refused_before_anything_is_created(
    engine: Any, deployment: Deployment, releases: Releases
) -> None:
    missing = releases.first.rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    result = deployment.invoke("deploy", "--ref", missing, "--port", str(deployment.port))
    assert result.returncode != 0
    assert "is not in the registry: push it first" in result.stderr
    if swarm.role(engine) == "manager":
        assert not swarm.services(engine, deployment.stack)


def test_the_first_deploy_converges_and_answers_with_a_client_key(
    engine: Any, deployed: Deployment, releases: Releases
) -> None:
    assert app_image(engine, deployed) == releases.first
    statuses = swarm.statuses(engine, deployed.stack)
    assert {(s.short_name, s.running, s.desired) for s in statuses} == {
        ("api-proxy", 1, 1),
        ("gemini-app", 2, 2),
        ("fake-gemini", 1, 1),
    }
    answer = httpx.post(
        f"{deployed.url}/generate", json={"prompt": "hi"}, headers=deployed.key(), timeout=30
    )
    assert answer.status_code == 200, answer.text
    refused = httpx.post(f"{deployed.url}/generate", json={"prompt": "hi"}, timeout=30)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_a_rolling_update_under_load_fails_no_request(
    engine: Any, deployed: Deployment, releases: Releases
) -> None:
    with Load(deployed, seconds=40) as load:
        rolled = deployed.invoke("deploy", "--ref", releases.second)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert app_image(engine, deployed) == releases.second
    assert_no_failed_request(load)


def test_a_release_that_fails_its_health_check_is_rolled_back_by_swarm_with_no_failed_request(
    engine: Any, deployed: Deployment, releases: Releases
) -> None:
    with Load(deployed, seconds=45) as load:
        bad = deployed.invoke("deploy", "--ref", releases.bad)
    assert bad.returncode != 0
    message = " ".join(bad.stderr.split())
    assert f"release {releases.bad} failed its health check" in message
    assert f"the previous release {releases.second} is serving" in message
    assert app_image(engine, deployed) == releases.second
    assert_no_failed_request(load)


def test_rollback_returns_to_the_release_before(
    engine: Any, deployed: Deployment, releases: Releases
) -> None:
    back = deployed.invoke("deploy.rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert app_image(engine, deployed) == releases.first


def test_killing_one_app_task_keeps_traffic_flowing_and_swarm_replaces_it(
    engine: Any, deployed: Deployment
) -> None:
    (victim, *_) = engine.containers.list(
        filters={"label": f"com.docker.swarm.service.name={deployed.stack}_gemini-app"}
    )
    with Load(deployed, seconds=12) as load:
        wait.until(lambda: True, timeout=1)  # the load is running
        victim.kill()
    assert load.result is not None
    failed = load.result.requests - load.result.ok
    assert failed <= 8, f"more than the in-flight requests failed: {dict(load.result.statuses)}"
    assert load.result.ok > 100

    def replaced() -> bool:
        app = next(
            s for s in swarm.statuses(engine, deployed.stack) if s.short_name == "gemini-app"
        )
        return app.running == app.desired == 2

    wait.until(replaced, timeout=60, interval=1, what="swarm replacing the killed task")


def test_down_leaves_no_services_secrets_configs_or_networks(
    engine: Any, deployed: Deployment
) -> None:
    result = deployed.invoke("deploy.down", "--leave")
    assert result.returncode == 0, result.stdout + result.stderr
    if swarm.role(engine) == "manager":  # the swarm was there before this run: it stays
        assert not swarm.services(engine, deployed.stack)
        assert not any(swarm.stack_objects(engine, deployed.stack).values())
    containers = engine.containers.list(
        all=True, filters={"label": f"{swarm.STACK_LABEL}={deployed.stack}"}
    )
    assert containers == []
