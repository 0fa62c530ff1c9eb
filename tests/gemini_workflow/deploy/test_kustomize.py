"""The kustomize subset deploy.render builds: what it applies, and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gemini_workflow.deploy import kustomize
from gemini_workflow.deploy.kustomize import KustomizeError

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {
        "initContainers": [{"name": "init", "image": "registry.local:5000/tools/init:1"}],
        "containers": [{"name": "app", "image": "app:1.0"}, {"name": "side", "image": "side"}],
    },
}


def write(folder: Path, kustomization: dict[str, Any], **files: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / kustomize.FILE).write_text(yaml.safe_dump(kustomization))
    for name, documents in files.items():
        (folder / name).write_text(yaml.safe_dump_all(documents))
    return folder


def images(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {c["name"]: c["image"] for o in objects for c in kustomize.containers(o)}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "app", "newTag": "2.0"}, "app:2.0"),
        ({"name": "app", "newName": "reg/app"}, "reg/app:1.0"),
        (
            {"name": "app", "newName": "reg/app", "newTag": "2", "digest": "sha256:ab"},
            "reg/app@sha256:ab",
        ),
        ({"name": "other", "newTag": "9"}, "app:1.0"),
    ],
)
def test_images_entries_work_as_in_kustomize(
    tmp_path: Path, entry: dict[str, str], expected: str
) -> None:
    folder = write(tmp_path, {"resources": ["pod.yaml"], "images": [entry]}, **{"pod.yaml": [POD]})
    assert images(kustomize.build(folder))["app"] == expected


def test_images_reach_init_containers_and_names_with_a_registry_port(tmp_path: Path) -> None:
    entry = {"name": "registry.local:5000/tools/init", "digest": "sha256:cd"}
    folder = write(tmp_path, {"resources": ["pod.yaml"], "images": [entry]}, **{"pod.yaml": [POD]})
    assert images(kustomize.build(folder))["init"] == "registry.local:5000/tools/init@sha256:cd"


@pytest.mark.parametrize(
    ("image", "split"),
    [
        ("app", ("app", "")),
        ("app:1", ("app", ":1")),
        ("host:5000/app", ("host:5000/app", "")),
        ("host:5000/app:1", ("host:5000/app", ":1")),
        ("host/app@sha256:ab", ("host/app", "@sha256:ab")),
    ],
)
def test_image_names_split_from_tag_or_digest(image: str, split: tuple[str, str]) -> None:
    assert kustomize.split_image(image) == split


def test_resources_nest_and_come_out_in_apply_order(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    write(tmp_path / "base", {"resources": ["pod.yaml"]}, **{"pod.yaml": [POD]})
    top = write(
        tmp_path / "top", {"resources": ["../base", "secret.yaml"]}, **{"secret.yaml": [secret]}
    )
    assert [kustomize.object_id(o) for o in kustomize.build(top)] == ["Secret/s", "Pod/p"]


def test_a_json6902_patch_from_a_file_applies_to_its_target(tmp_path: Path) -> None:
    ops = [{"op": "replace", "path": "/spec/containers/0/image", "value": "patched"}]
    patch = {"target": {"kind": "Pod", "name": "p"}, "path": "ops.yaml"}
    folder = write(tmp_path, {"resources": ["pod.yaml"], "patches": [patch]}, **{"pod.yaml": [POD]})
    (folder / "ops.yaml").write_text(yaml.safe_dump(ops))
    assert images(kustomize.build(folder))["app"] == "patched"
    assert POD["spec"]["containers"][0]["image"] == "app:1.0"  # inputs stay untouched


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ({"resources": ["pod.yaml"], "namePrefix": "x-"}, "uses namePrefix, which deploy.render"),
        ({"resources": ["pod.yaml"], "images": [{"name": "a", "tagSuffix": "x"}]}, "tagSuffix"),
        ({"resources": ["missing.yaml"]}, "resource .*missing.yaml does not exist"),
        ({"resources": ["pod.yaml", "pod.yaml"]}, "Pod/p is defined twice"),
        (
            {"resources": ["pod.yaml"], "patches": [{"target": {"kind": "Pod"}, "patch": "[]"}]},
            "exactly kind and name",
        ),
        (
            {
                "resources": ["pod.yaml"],
                "patches": [{"target": {"kind": "Pod", "name": "q"}, "patch": "[]"}],
            },
            "no Pod/q to patch among Pod/p",
        ),
        (
            {
                "resources": ["pod.yaml"],
                "patches": [{"target": {"kind": "Pod", "name": "p"}, "patch": "spec: {}"}],
            },
            "applies no strategic-merge patches",
        ),
        (
            {
                "resources": ["pod.yaml"],
                "patches": [
                    {
                        "target": {"kind": "Pod", "name": "p"},
                        "patch": "- {op: test, path: /spec/containers/0/name, value: web}",
                    }
                ],
            },
            "the patch of Pod/p does not apply",
        ),
    ],
)
def test_what_it_cannot_build_as_kustomize_would_is_refused(
    tmp_path: Path, kustomization: dict[str, Any], message: str
) -> None:
    folder = write(tmp_path, kustomization, **{"pod.yaml": [POD]})
    with pytest.raises(KustomizeError, match=message):
        kustomize.build(folder)


def test_a_folder_without_a_kustomization_is_named(tmp_path: Path) -> None:
    with pytest.raises(KustomizeError, match=r"has no kustomization\.yaml"):
        kustomize.build(tmp_path)


def test_a_document_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    folder = write(tmp_path, {"resources": ["list.yaml"]})
    (folder / "list.yaml").write_text("- just\n- a list\n")
    with pytest.raises(KustomizeError, match="not a Kubernetes object"):
        kustomize.build(folder)
