"""The Kubernetes render: valid (strict, offline), by digest, hardened, and atomic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from gemini_workflow.deploy import kustomize, render, validation
from gemini_workflow.deploy.validation import ManifestError
from tests.gemini_workflow.deploy.conftest import (
    APP,
    FAKE,
    ROOT,
    app_container,
    by_id,
    read_all,
)

PINNED = re.compile(r"^[^@\s]+/[^/:@\s]+@sha256:[0-9a-f]{64}$")


def pod_spec(objects: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = objects[f"Deployment/{name}"]["spec"]["template"]["spec"]
    return spec


def test_base_holds_the_app_its_service_budget_and_autoscaler(
    base: dict[str, dict[str, Any]],
) -> None:
    assert sorted(base) == [
        "Deployment/gemini-service",
        "HorizontalPodAutoscaler/gemini-service",
        "PodDisruptionBudget/gemini-service",
        "Service/gemini-service",
    ]


@pytest.mark.parametrize("version", validation.KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_strictly(
    base: dict[str, dict[str, Any]], fake_upstream: dict[str, dict[str, Any]], version: str
) -> None:
    for manifest in [*base.values(), *fake_upstream.values()]:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_every_image_is_pinned_by_digest_never_a_tag(
    base: dict[str, dict[str, Any]], fake_upstream: dict[str, dict[str, Any]]
) -> None:
    images = [
        container["image"]
        for manifest in [*base.values(), *fake_upstream.values()]
        for container in kustomize.containers(manifest)
    ]
    assert len(images) == 3  # the app twice, the fake once
    assert all(PINNED.match(image) for image in images), images
    assert set(images) == {str(APP)}


def test_the_app_runs_hardened(base: dict[str, dict[str, Any]]) -> None:
    spec = pod_spec(base, "gemini-service")
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert app_container(base)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    mounts = {m["mountPath"]: m["name"] for m in app_container(base)["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_rolls_one_pod_at_a_time_never_below_the_wanted_count(
    base: dict[str, dict[str, Any]],
) -> None:
    deployment = base["Deployment/gemini-service"]["spec"]
    assert deployment["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert "replicas" not in deployment  # the HPA owns the count
    assert pod_spec(base, "gemini-service")["terminationGracePeriodSeconds"] > 30 + 1 + 5


def test_probes_are_on_health_and_fit_a_one_second_start(base: dict[str, dict[str, Any]]) -> None:
    container = app_container(base)
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] == 1  # ready about 1 s after the first success
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 20  # slow nodes too
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 30


def test_resources_come_from_the_measured_rss(base: dict[str, dict[str, Any]]) -> None:
    assert app_container(base)["resources"] == {
        "requests": {"cpu": "250m", "memory": "128Mi"},  # 116 MB peak at most
        "limits": {"cpu": "1", "memory": "256Mi"},
    }


def test_keys_are_files_from_two_secrets_never_the_environment(
    base: dict[str, dict[str, Any]],
) -> None:
    container = app_container(base)
    env = {item["name"]: item for item in container["env"]}
    assert "GEMINI_API_KEY" not in env
    assert not any("valueFrom" in item for item in env.values())
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "secrets"]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod_spec(base, "gemini-service")["volumes"] if v["name"] == "secrets"]
    files = {
        f"{mount['mountPath']}/{item['path']}": source["secret"]["name"]
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    assert files == {
        env["GEMINI_API_KEY_FILE"]["value"]: "gemini-api-key",
        env["GEMINI_CLIENT_KEYS_FILE"]["value"]: "gemini-client-keys",
    }
    assert volume["projected"]["defaultMode"] == 0o440


def test_autoscaler_budget_and_service_select_the_app(base: dict[str, dict[str, Any]]) -> None:
    labels = base["Deployment/gemini-service"]["spec"]["template"]["metadata"]["labels"]
    hpa = base["HorizontalPodAutoscaler/gemini-service"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gemini-service",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    pdb = base["PodDisruptionBudget/gemini-service"]["spec"]
    assert pdb["minAvailable"] == 1
    service = base["Service/gemini-service"]["spec"]
    for selector in (pdb["selector"]["matchLabels"], service["selector"]):
        assert selector.items() <= labels.items()
    assert service["ports"][0]["targetPort"] == "http"


def test_the_overlay_adds_the_fake_and_points_the_app_at_it(
    base: dict[str, dict[str, Any]], fake_upstream: dict[str, dict[str, Any]]
) -> None:
    added = sorted(set(fake_upstream) - set(base))
    assert added == ["Deployment/fake-gemini", "Secret/gemini-api-key", "Service/fake-gemini"]
    port = fake_upstream["Service/fake-gemini"]["spec"]["ports"][0]["port"]

    def endpoint(objects: dict[str, dict[str, Any]]) -> str:
        env = {item["name"]: item.get("value") for item in app_container(objects)["env"]}
        return str(env["GEMINI_API_ENDPOINT"])

    assert endpoint(fake_upstream) == f"http://fake-gemini:{port}"
    assert endpoint(base) == "https://generativelanguage.googleapis.com"
    fake_spec = pod_spec(fake_upstream, "fake-gemini")
    (fake,) = fake_spec["containers"]
    assert fake["securityContext"] == app_container(base)["securityContext"]
    assert fake_spec["securityContext"]["runAsNonRoot"] is True
    assert fake["command"] == ["python", "-m", "gemini_service.fake"]
    selector = fake_upstream["Service/fake-gemini"]["spec"]["selector"]
    labels = fake_upstream["Deployment/fake-gemini"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_fake_ref_pins_a_pushed_fake_image(tmp_path: Path) -> None:
    out = tmp_path / "kubernetes"
    render.render_kubernetes(ROOT, out, APP, FAKE, "fake-upstream")
    objects = by_id(read_all(out / render.MANIFESTS))
    assert pod_spec(objects, "fake-gemini")["containers"][0]["image"] == str(FAKE)
    assert app_container(objects)["image"] == str(APP)


@pytest.mark.parametrize("overlay", list(render.OVERLAYS))
def test_the_rendered_tree_builds_to_exactly_the_manifests(tmp_path: Path, overlay: str) -> None:
    """`kubectl apply -k build/deploy/kubernetes/...` gives what manifests.yaml holds."""
    out = tmp_path / "kubernetes"
    result = render.render_kubernetes(ROOT, out, APP, FAKE, overlay)
    assert kustomize.build(out / render.OVERLAYS[overlay]) == read_all(out / render.MANIFESTS)
    assert result.validated_against == validation.KUBERNETES_VERSIONS
    assert out / render.MANIFESTS in result.files
    base_images = kustomize.Kustomization.load(out / "base").images
    assert base_images == ({"name": "gemini-service", **_pin(APP)},)


def _pin(reference: Any) -> dict[str, str]:
    return {"newName": str(reference.repository), "digest": str(reference.digest)}


def _break(repo: Path, old: str, new: str) -> None:
    path = repo / "deploy/kubernetes/base/deployment.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_misspelt_field_fails_naming_the_object_and_the_field(repo: Path, tmp_path: Path) -> None:
    _break(repo, "readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true")
    with pytest.raises(ManifestError) as failure:
        render.render_kubernetes(repo, tmp_path / "out", APP, APP, "base")
    message = str(failure.value)
    assert "Deployment/gemini-service from deploy/kubernetes/base" in message
    assert "spec.template.spec.containers[0].securityContext" in message
    assert "'readOnlyRootFilesytem' was unexpected" in message


def test_a_wrongly_typed_field_is_named_to_the_leaf(repo: Path, tmp_path: Path) -> None:
    _break(repo, "runAsNonRoot: true", 'runAsNonRoot: "yes"')
    with pytest.raises(ManifestError, match=r"spec\.template\.spec\.securityContext\.runAsNonRoot"):
        render.render_kubernetes(repo, tmp_path / "out", APP, APP, "base")


def test_a_failed_render_keeps_the_previous_output(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "kubernetes"
    render.render_kubernetes(repo, out, APP, APP, "base")
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    _break(repo, "maxSurge: 1", "maxSurge: [1]")
    with pytest.raises(ManifestError, match="maxSurge"):
        render.render_kubernetes(repo, out, FAKE, APP, "base")
    after = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert after == before
    assert [path.name for path in out.parent.iterdir()] == ["kubernetes"]  # no temp folders


def test_an_image_without_an_images_entry_is_refused(repo: Path, tmp_path: Path) -> None:
    path = repo / "deploy/kubernetes/base/kustomization.yaml"
    path.write_text(path.read_text().replace("  - name: gemini-service\n", "  - name: other\n"))
    with pytest.raises(render.RenderError, match="no `images:` entry named gemini-service"):
        render.render_kubernetes(repo, tmp_path / "out", APP, APP, "base")


def test_a_container_by_tag_is_refused(repo: Path, tmp_path: Path) -> None:
    path = repo / "deploy/kubernetes/overlays/fake-upstream/fake-gemini.yaml"
    path.write_text(path.read_text().replace("image: gemini-service-fake", "image: nginx:1.27"))
    with pytest.raises(ManifestError, match=r"container fake-gemini runs 'nginx:1\.27'"):
        render.render_kubernetes(repo, tmp_path / "out", APP, APP, "base")


@pytest.mark.parametrize(
    "image",
    [
        "gemini-service",
        "127.0.0.1:5000/llm-apps/gemini-service:1.0",
        "127.0.0.1:5000/llm-apps/gemini-service:1.0@sha256:" + "a" * 64,
        "gemini-service@sha256:" + "a" * 64,
        "127.0.0.1:5000/llm-apps/gemini-service@sha256:" + "A" * 64,
    ],
)
def test_only_host_path_at_digest_counts_as_pinned(image: str) -> None:
    assert not validation.is_pinned(image)
    assert validation.is_pinned(str(APP))


def test_field_paths_read_like_kubectl_explain() -> None:
    assert validation.field_path(["spec", "containers", 0, "image"]) == "spec.containers[0].image"
    assert validation.field_path([]) == "(the object)"


def test_an_api_version_without_a_schema_is_named(tmp_path: Path) -> None:
    manifest = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(ManifestError, match=r"Kubernetes 1\.35 has no example\.com/v1 Widget"):
        validation.validate([manifest], "somewhere")


def test_a_patch_that_no_longer_fits_names_the_source_kustomization(
    repo: Path, tmp_path: Path
) -> None:
    _break(repo, "- name: GEMINI_API_ENDPOINT", "- name: GEMINI_API_URL")
    with pytest.raises(kustomize.KustomizeError) as failure:
        render.render_kubernetes(repo, tmp_path / "out", APP, APP, "base")
    message = str(failure.value)
    assert message.startswith("deploy/kubernetes/overlays/fake-upstream/kustomization.yaml: ")
    assert "the patch of Deployment/gemini-service does not apply" in message
