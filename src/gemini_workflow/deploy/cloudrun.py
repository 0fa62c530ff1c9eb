"""The Cloud Run service (Knative serving v1) for one release: the template, pinned.

deploy/cloudrun/service.yaml holds every choice and its reason; this only fills in what
depends on the release: the image by digest, and the service's own identity when the image
lives in Artifact Registry (whose path names the Google Cloud project). No schema for Knative
ships offline, so the fields a deploy relies on are checked here instead, and unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from gemini_workflow.deploy.validation import is_pinned
from gemini_workflow.errors import WorkflowError
from gemini_workflow.release import ImageReference

TEMPLATE: Final = Path("deploy/cloudrun/service.yaml")
SERVICE_ACCOUNT: Final = "gemini-service"
"""The account the service runs as: `gemini-service@PROJECT.iam.gserviceaccount.com`."""
PUBLIC_MARKERS: Final = {"run.googleapis.com/invoker-iam-disabled": "true"}


class CloudRunError(WorkflowError):
    """The Cloud Run template cannot be rendered as deployable; the message says why."""


def render(template: Path, app: ImageReference) -> tuple[dict[str, Any], list[str]]:
    """The service for `app`, and notes for the person deploying it."""
    service: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
    container = only_container(service, template)
    container["image"] = str(app)
    notes = []
    project = artifact_registry_project(app)
    if project:
        spec = service["spec"]["template"]["spec"]
        spec["serviceAccountName"] = f"{SERVICE_ACCOUNT}@{project}.iam.gserviceaccount.com"
    else:
        notes.append(
            f"{app.repository.host} is not Artifact Registry: Cloud Run cannot pull from it, and"
            " the service runs as the project's default compute account. Push the release to"
            " Artifact Registry (`invoke push`) and render again"
        )
    check(service, template)
    return service, notes


def artifact_registry_project(app: ImageReference) -> str | None:
    """`<location>-docker.pkg.dev/<project>/<repository>/<image>` -> `<project>`."""
    if not app.repository.is_artifact_registry:
        return None
    return app.repository.path.split("/", 1)[0]


def only_container(service: Mapping[str, Any], template: Path) -> dict[str, Any]:
    """The one container of the revision template (the service has no sidecars)."""
    try:
        found = service["spec"]["template"]["spec"]["containers"]
    except (KeyError, TypeError):
        raise CloudRunError(f"{template} has no spec.template.spec.containers") from None
    if not isinstance(found, list) or len(found) != 1:
        raise CloudRunError(f"{template} must define exactly one container")
    container: dict[str, Any] = found[0]
    return container


def check(service: Mapping[str, Any], template: Path) -> None:
    """What a deploy relies on: Knative v1, the image by digest, not public, probes, files."""
    if (service.get("apiVersion"), service.get("kind")) != ("serving.knative.dev/v1", "Service"):
        raise CloudRunError(f"{template} is not a serving.knative.dev/v1 Service")
    annotations = service.get("metadata", {}).get("annotations") or {}
    for key, public in PUBLIC_MARKERS.items():
        if str(annotations.get(key, "")).lower() == public:
            raise CloudRunError(
                f"{template} sets {key}: {public}, which lets anyone call the service and spend"
                " the Gemini quota; remove it (callers need roles/run.invoker)"
            )
    container = only_container(service, template)
    if not is_pinned(str(container.get("image"))):
        raise CloudRunError(f"the Cloud Run image {container.get('image')!r} is not by digest")
    for probe in ("startupProbe", "livenessProbe"):
        if container.get(probe, {}).get("httpGet", {}).get("path") != "/health":
            raise CloudRunError(f"{template}: the container needs a {probe} on /health")
    if any(variable.get("valueFrom") for variable in container.get("env") or []):
        raise CloudRunError(
            f"{template}: a secret in an environment variable; mount it as a file (volumes)"
        )
