"""What the deploy reads from swarm, from plain `docker service inspect` data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow.deploy import swarm
from gemini_workflow.deploy.swarm import ServiceStatus, SwarmError


class FakeService:
    def __init__(self, name: str, running: int, desired: int, update: dict[str, Any]) -> None:
        self.attrs = {
            "Spec": {
                "Name": name,
                "TaskTemplate": {"ContainerSpec": {"Image": "app@sha256:1"}},
                "Mode": {"Replicated": {"Replicas": desired}},
            },
            "UpdateStatus": update,
        }
        self.states = ["running"] * running + ["starting"] * (desired - running)

    def tasks(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        assert filters == {"desired-state": "running"}
        return [{"Status": {"State": state}} for state in self.states]


class FakeSwarmApi:
    def __init__(self) -> None:
        self.inits: list[dict[str, str]] = []

    def init(self, **kwargs: str) -> None:
        self.inits.append(kwargs)


class FakeClient:
    def __init__(self, swarm_info: dict[str, Any]) -> None:
        self.swarm_info = swarm_info
        self.swarm = FakeSwarmApi()

    def info(self) -> dict[str, Any]:
        return {"Swarm": self.swarm_info}


def test_a_service_is_read_with_healthy_tasks_its_image_and_last_update() -> None:
    update = {"State": "updating", "StartedAt": "2026-11-28T06:19:21.52848111Z", "Message": "m"}
    status = swarm.service_status(FakeService("s_gemini-app", 1, 2, update))
    assert (status.running, status.desired, status.image) == (1, 2, "app@sha256:1")
    assert status.update_state == "updating"
    assert status.update_started == datetime(2026, 11, 28, 6, 19, 21, 528481, tzinfo=UTC)
    assert status.short_name == "gemini-app"
    assert not status.converged


def test_the_task_template_digest_follows_the_template() -> None:
    one = swarm.service_status(FakeService("s", 1, 1, {}))
    other = FakeService("s", 1, 1, {})
    other.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "app@sha256:2"
    assert one.template != swarm.service_status(other).template
    assert one.template == swarm.service_status(FakeService("s", 1, 1, {})).template


@pytest.mark.parametrize(
    ("status", "converged"),
    [
        (ServiceStatus("s", "i", 2, 2), True),
        (ServiceStatus("s", "i", 1, 2), False),
        (ServiceStatus("s", "i", 2, 2, "updating"), False),
        (ServiceStatus("s", "i", 2, 2, "rollback_started"), False),
        (ServiceStatus("s", "i", 2, 2, "completed"), True),
    ],
)
def test_converged_means_every_task_runs_and_no_update_is_under_way(
    status: ServiceStatus, converged: bool
) -> None:
    assert status.converged is converged


def test_a_node_outside_any_swarm_becomes_a_single_node_manager_on_loopback() -> None:
    client = FakeClient({"LocalNodeState": "inactive"})
    assert swarm.require_manager(client) is True
    assert client.swarm.inits == [{"advertise_addr": "127.0.0.1", "listen_addr": "127.0.0.1:2377"}]


def test_a_manager_is_used_as_it_is() -> None:
    client = FakeClient({"LocalNodeState": "active", "ControlAvailable": True})
    assert swarm.require_manager(client) is False
    assert client.swarm.inits == []


def test_a_worker_is_refused_with_where_to_deploy_from() -> None:
    client = FakeClient({"LocalNodeState": "active", "ControlAvailable": False})
    with pytest.raises(SwarmError, match=r"swarm worker.*manager node"):
        swarm.require_manager(client)


def test_the_stack_is_deployed_without_resolving_images_and_with_pruning() -> None:
    command = swarm.stack_command(Path("deploy/swarm/stack.yaml"), "gs")
    assert command[:3] == ["docker", "stack", "deploy"]
    assert command[command.index("--resolve-image") + 1] == "never"
    assert {"--detach=true", "--prune", "--with-registry-auth"} <= set(command)
    assert command[-1] == "gs"


def test_nanosecond_times_are_read() -> None:
    assert swarm.parse_time("2026-11-28T06:32:04.756879146Z").microsecond == 756879
    assert swarm.parse_time("2026-11-28T06:32:04Z").second == 4
