"""Check rendered Kubernetes objects offline: the OpenAPI schemas, strictly, and digest pins.

`kubectl apply --dry-run=client` needs a cluster; `kubernetes-validate` ships the schemas of
every Kubernetes minor version it knows and validates without one. Strict mode refuses fields
the schema does not define, so a misspelt `readOnlyRootFilesytem` fails here instead of being
dropped by the API server and leaving the pod writable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import kubernetes_validate

from gemini_workflow.deploy.kustomize import containers, object_id
from gemini_workflow.errors import WorkflowError

KUBERNETES_VERSIONS: Final = ("1.35", "1.37")
"""Validated against both ends of the upstream support window in late 2026: 1.35, the oldest
minor version the Kubernetes project still patches (and what stable release channels of
managed clusters run), and 1.37, the newest whose schemas kubernetes-validate 1.37 ships. A
manifest valid in both uses no field that is too new for the one or removed from the other."""

DIGEST_MARK: Final = "@sha256:"


class ManifestError(WorkflowError):
    """A rendered object is invalid or not pinned; the message names the object and field."""


def validate(objects: Iterable[Mapping[str, Any]], source: str) -> None:
    """Every object valid in every version of KUBERNETES_VERSIONS, every image by digest."""
    for manifest in objects:
        for version in KUBERNETES_VERSIONS:
            _validate_one(manifest, version, source)
        check_pinned(manifest, source)


def _validate_one(manifest: Mapping[str, Any], version: str, source: str) -> None:
    try:
        kubernetes_validate.validate(dict(manifest), version, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise ManifestError(
            f"{object_id(manifest)} from {source} is not valid Kubernetes {version} (strict):"
            f" {field_path(error.path)}: {error.message}. Fix it in {source}, then render again"
        ) from None
    except kubernetes_validate.SchemaNotFoundError:
        raise ManifestError(
            f"{object_id(manifest)} from {source}: Kubernetes {version} has no"
            f" {manifest.get('apiVersion')} {manifest.get('kind')}; use a served API version"
        ) from None


def field_path(path: Iterable[Any]) -> str:
    """`spec.template.spec.containers[0].securityContext`, or `(the object)` at the top."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(the object)"


def check_pinned(manifest: Mapping[str, Any], source: str) -> None:
    """Every container image is `HOST/PATH@sha256:...`: a tag can move between nodes."""
    for container in containers(dict(manifest)):
        image = str(container.get("image", ""))
        if not is_pinned(image):
            raise ManifestError(
                f"{object_id(manifest)} from {source}: container {container.get('name')} runs"
                f" {image!r}, not an image by digest; give it an `images:` entry in its"
                " kustomization.yaml that deploy.render pins"
            )


def is_pinned(image: str) -> bool:
    """`HOST/PATH@sha256:<64 hex>` with no tag: what deploys may run."""
    name, mark, digest = image.partition(DIGEST_MARK)
    last = name.rsplit("/", 1)[-1]
    return bool(mark) and "/" in name and ":" not in last and _is_hex64(digest)


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and all(char in "0123456789abcdef" for char in text)
