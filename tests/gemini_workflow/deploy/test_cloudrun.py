"""The Cloud Run service: by digest, private, sized and scaled from the measured figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gemini_workflow.deploy import cloudrun, render
from gemini_workflow.deploy.cloudrun import CloudRunError
from tests.gemini_workflow.deploy.conftest import APP, AR_APP, ROOT


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cloudrun") / "cloudrun"
    result = render.render_cloudrun(ROOT, out, AR_APP)
    assert result.files == (out / "service.yaml",)
    assert result.notes == ()
    loaded: dict[str, Any] = yaml.safe_load((out / "service.yaml").read_text())
    return loaded


def revision(service: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = service["spec"]["template"]["spec"]
    return spec


def container(service: dict[str, Any]) -> dict[str, Any]:
    (found,) = revision(service)["containers"]
    return dict(found)


def test_a_knative_service_running_the_release_by_digest(service: dict[str, Any]) -> None:
    assert (service["apiVersion"], service["kind"]) == ("serving.knative.dev/v1", "Service")
    assert service["metadata"]["name"] == "gemini-service"
    assert container(service)["image"] == str(AR_APP)
    assert "@sha256:" in container(service)["image"]
    assert service["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]


def test_no_unauthenticated_access(service: dict[str, Any]) -> None:
    annotations = service["metadata"]["annotations"]
    assert annotations["run.googleapis.com/ingress"] == "all"
    assert annotations["run.googleapis.com/invoker-iam-disabled"] == "false"
    assert "allUsers" not in yaml.safe_dump(service)


def test_runs_as_its_own_service_account_in_the_registry_project(
    service: dict[str, Any],
) -> None:
    account = revision(service)["serviceAccountName"]
    assert account == "gemini-service@my-project.iam.gserviceaccount.com"


def test_concurrency_scaling_and_size_follow_the_benchmark(service: dict[str, Any]) -> None:
    annotations = service["spec"]["template"]["metadata"]["annotations"]
    assert annotations["run.googleapis.com/execution-environment"] == "gen2"
    assert annotations["autoscaling.knative.dev/minScale"] == "1"
    assert annotations["autoscaling.knative.dev/maxScale"] == "6"
    assert revision(service)["containerConcurrency"] == 80
    assert revision(service)["timeoutSeconds"] > 30  # GEMINI_TIMEOUT_SECONDS
    assert container(service)["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"}}


def test_probes_on_health(service: dict[str, Any]) -> None:
    port = container(service)["ports"][0]["containerPort"]
    for probe in ("startupProbe", "livenessProbe"):
        assert container(service)[probe]["httpGet"] == {"path": "/health", "port": port}
    assert container(service)["startupProbe"]["periodSeconds"] == 1


def test_keys_are_secret_manager_files_at_latest(service: dict[str, Any]) -> None:
    env = {item["name"]: item for item in container(service)["env"]}
    assert not any("valueFrom" in item for item in env.values())
    assert "GEMINI_API_KEY" not in env
    assert "PORT" not in env  # Cloud Run sets PORT itself
    mounts = {m["name"]: m["mountPath"] for m in container(service)["volumeMounts"]}
    files = {
        f"{mounts[volume['name']]}/{item['path']}": (volume["secret"]["secretName"], item["key"])
        for volume in revision(service)["volumes"]
        for item in volume["secret"]["items"]
    }
    assert files == {
        env["GEMINI_API_KEY_FILE"]["value"]: ("gemini-api-key", "latest"),
        env["GEMINI_CLIENT_KEYS_FILE"]["value"]: ("gemini-client-keys", "latest"),
    }


def test_runs_as_the_image_user(service: dict[str, Any]) -> None:
    assert "securityContext" not in container(service)  # USER 10001:10001 from the image


def test_an_image_outside_artifact_registry_gets_a_note(tmp_path: Path) -> None:
    result = render.render_cloudrun(ROOT, tmp_path / "cloudrun", APP)
    (note,) = result.notes
    assert "127.0.0.1:5000 is not Artifact Registry" in note
    written = yaml.safe_load((tmp_path / "cloudrun" / "service.yaml").read_text())
    assert "serviceAccountName" not in written["spec"]["template"]["spec"]


def _template(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / cloudrun.TEMPLATE).read_text()
    assert old in text
    path = tmp_path / "service.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'invoker-iam-disabled: "false"',
            'invoker-iam-disabled: "true"',
            "lets anyone call the service",
        ),
        ("path: /health", "path: /", "needs a startupProbe on /health"),
        (
            "value: /secrets/gemini-api-key/api-key",
            "valueFrom: {secretKeyRef: {name: gemini-api-key, key: latest}}",
            "a secret in an environment variable",
        ),
        ("kind: Service", "kind: Configuration", "not a serving.knative.dev/v1 Service"),
        ("      containers:\n", "      containers: []\n      x:\n", "exactly one container"),
    ],
)
def test_a_template_that_would_deploy_badly_is_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(CloudRunError, match=message):
        cloudrun.render(_template(tmp_path, old, new), AR_APP)


def test_a_template_without_containers_is_named(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text("apiVersion: serving.knative.dev/v1\nkind: Service\nspec: {}\n")
    with pytest.raises(CloudRunError, match=r"has no spec\.template\.spec\.containers"):
        cloudrun.render(path, AR_APP)
