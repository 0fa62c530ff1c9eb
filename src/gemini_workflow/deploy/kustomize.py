"""Build a kustomization the way `kubectl apply -k` does, for the few features this repo uses.

There is no kustomize binary on the machines this project runs on, and the manifests must be
validated offline. So this builds deploy/kubernetes/ itself: `resources` (files, and folders
holding a kustomization), `patches` in JSON 6902 form (applied by the maintained `jsonpatch`),
and `images` (newName, newTag, digest), in kustomize's order: resources, patches, images.
Anything else in a kustomization.yaml is refused, so a feature this does not implement can
never be silently skipped and make `kubectl apply -k` differ from what was validated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonpatch
import yaml

from gemini_workflow.errors import WorkflowError

FILE: Final = "kustomization.yaml"
FIELDS: Final = frozenset({"apiVersion", "kind", "resources", "patches", "images"})
IMAGE_FIELDS: Final = frozenset({"name", "newName", "newTag", "digest"})
TARGET_FIELDS: Final = frozenset({"kind", "name"})
# kustomize's "legacy" output order: what a resource needs exists before it.
KIND_ORDER: Final = (
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
)

Manifest = dict[str, Any]


class KustomizeError(WorkflowError):
    """A kustomization this builder cannot build as kustomize would; the message says why."""


@dataclass(frozen=True)
class Kustomization:
    """One kustomization.yaml: where it is and the three fields this builder applies."""

    directory: Path
    resources: tuple[str, ...]
    patches: tuple[Mapping[str, Any], ...]
    images: tuple[Mapping[str, str], ...]

    @classmethod
    def load(cls, directory: Path) -> Kustomization:
        path = directory / FILE
        if not path.is_file():
            raise KustomizeError(f"{directory} has no {FILE}: point at a kustomization folder")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if unknown := sorted(set(data) - FIELDS):
            raise KustomizeError(
                f"{path} uses {', '.join(unknown)}, which deploy.render does not implement: use"
                " resources, patches (JSON 6902) and images only, or teach"
                " gemini_workflow/deploy/kustomize.py the feature first"
            )
        for image in data.get("images") or []:
            if extra := sorted(set(image) - IMAGE_FIELDS):
                raise KustomizeError(f"{path}: images entry {image} uses {', '.join(extra)}")
        return cls(
            directory=directory,
            resources=tuple(data.get("resources") or []),
            patches=tuple(data.get("patches") or []),
            images=tuple(data.get("images") or []),
        )


def build(directory: Path) -> list[Manifest]:
    """The objects `kubectl apply -k DIRECTORY` would create, in kustomize's legacy order."""
    kustomization = Kustomization.load(directory)
    objects: list[Manifest] = []
    for entry in kustomization.resources:
        path = (directory / entry).resolve()
        objects.extend(build(path) if path.is_dir() else read_objects(path))
    _check_unique(objects, directory)
    for patch in kustomization.patches:
        apply_patch(objects, patch, directory)
    for image in kustomization.images:
        set_image(objects, image)
    return sorted(objects, key=_order)


def read_objects(path: Path) -> list[Manifest]:
    """Every document of a YAML file that is an object (empty documents are skipped)."""
    if not path.is_file():
        raise KustomizeError(f"resource {path} does not exist: fix `resources:` in {FILE}")
    documents = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    objects = [document for document in documents if document]
    for found in objects:
        if not isinstance(found, dict) or "kind" not in found or "metadata" not in found:
            raise KustomizeError(f"{path} holds a document that is not a Kubernetes object")
    return objects


def object_id(manifest: Mapping[str, Any]) -> str:
    """`Kind/name`, how errors and the tests name an object."""
    return f"{manifest['kind']}/{manifest['metadata'].get('name', '?')}"


def apply_patch(objects: list[Manifest], patch: Mapping[str, Any], directory: Path) -> None:
    """Apply one JSON 6902 patch to the one object its target names (kind and name).

    Stricter than kustomize in one way: a target that matches nothing is an error, because a
    renamed object would otherwise leave the patch (say, the fake's endpoint) silently unused.
    """
    target = patch.get("target") or {}
    if set(target) != TARGET_FIELDS:
        raise KustomizeError(
            f"{directory / FILE}: a patch target must give exactly kind and name, not {target}"
        )
    operations = _patch_operations(patch, directory)
    wanted = f"{target['kind']}/{target['name']}"
    matches = [index for index, found in enumerate(objects) if object_id(found) == wanted]
    if not matches:
        raise KustomizeError(
            f"{directory / FILE}: no {wanted} to patch among"
            f" {', '.join(object_id(o) for o in objects)}"
        )
    for index in matches:
        objects[index] = _patched(objects[index], operations, directory)


def _patch_operations(patch: Mapping[str, Any], directory: Path) -> list[Any]:
    if "path" in patch:
        text = (directory / str(patch["path"])).read_text(encoding="utf-8")
    else:
        text = str(patch.get("patch", ""))
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise KustomizeError(
            f"{directory / FILE}: a patch for {patch.get('target')} is not a list of JSON 6902"
            " operations; deploy.render applies no strategic-merge patches: write it as"
            " `- op: replace` ... operations"
        )
    return operations


def _patched(manifest: Manifest, operations: list[Any], directory: Path) -> Manifest:
    try:
        result: Manifest = jsonpatch.JsonPatch(operations).apply(manifest)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
        raise KustomizeError(
            f"{directory / FILE}: the patch of {object_id(manifest)} does not apply ({error}):"
            " the object no longer looks as the patch expects; update one or the other"
        ) from None
    return result


def set_image(objects: list[Manifest], image: Mapping[str, str]) -> None:
    """kustomize's `images` entry: containers whose image has this name get the new one."""
    for container in _containers(objects):
        name, suffix = split_image(str(container.get("image", "")))
        if name != image["name"]:
            continue
        new_name = image.get("newName") or name
        if image.get("digest"):
            container["image"] = f"{new_name}@{image['digest']}"
        elif image.get("newTag"):
            container["image"] = f"{new_name}:{image['newTag']}"
        else:
            container["image"] = new_name + suffix


def split_image(image: str) -> tuple[str, str]:
    """`name[:tag][@digest]` -> (name, `:tag`/`@digest` suffix), as kustomize matches names."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, f"@{digest}"
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def containers(manifest: Manifest) -> Iterator[dict[str, Any]]:
    """Every container (init containers too) anywhere in one object, as kustomize finds them."""
    yield from _containers([manifest])


def _containers(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _containers(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in {"containers", "initContainers"} and isinstance(item, list):
                yield from (entry for entry in item if isinstance(entry, dict))
            else:
                yield from _containers(item)


def _check_unique(objects: list[Manifest], directory: Path) -> None:
    seen: set[str] = set()
    for manifest in objects:
        if (key := object_id(manifest)) in seen:
            raise KustomizeError(f"{directory / FILE}: {key} is defined twice")
        seen.add(key)


def _name(manifest: Mapping[str, Any]) -> str:
    return str(manifest["metadata"].get("name", ""))


def _order(manifest: Mapping[str, Any]) -> tuple[int, str, str]:
    kind = str(manifest["kind"])
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, kind, _name(manifest)
