"""Fixtures of the deploy.render tests: releases by digest and renders into tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gemini_workflow.deploy import render
from gemini_workflow.release import ImageReference

ROOT = Path(__file__).resolve().parents[3]
APP = ImageReference.parse("127.0.0.1:5000/llm-apps/gemini-service@sha256:" + "a" * 64)
FAKE = ImageReference.parse("127.0.0.1:5000/llm-apps/gemini-service-fake@sha256:" + "f" * 64)
AR_APP = ImageReference.parse(
    "europe-west1-docker.pkg.dev/my-project/llm-apps/gemini-service@sha256:" + "b" * 64
)


def read_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A root holding a copy of the deploy sources, free to break."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "deploy", root / "deploy")
    return root


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The base render's objects by `Kind/name`."""
    out = tmp_path_factory.mktemp("base") / "kubernetes"
    render.render_kubernetes(ROOT, out, APP, APP, "base")
    return by_id(read_all(out / render.MANIFESTS))


@pytest.fixture(scope="module")
def fake_upstream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The fake-upstream render's objects by `Kind/name`."""
    out = tmp_path_factory.mktemp("fake") / "kubernetes"
    render.render_kubernetes(ROOT, out, APP, APP, "fake-upstream")
    return by_id(read_all(out / render.MANIFESTS))


def app_container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = objects["Deployment/gemini-service"]["spec"]["template"]["spec"]["containers"]
    return container
