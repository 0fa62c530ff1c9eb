"""The run's registry: pushed references by digest, and every engine reference to it removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import docker_engine, local_registry
from gemini_workflow.bench import releases
from tests.gemini_workflow.bench.support import FakeEngine, make_run


class Listed:
    def __init__(self, tags: list[str], digests: list[str]) -> None:
        self.attrs = {"RepoTags": tags, "RepoDigests": digests}


def test_forget_stops_the_registry_and_drops_only_references_into_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: Any = FakeEngine()
    engine.images.list = lambda: [
        Listed(["127.0.0.1:5999/bench/gemini-service:first", "gemini-bench:r1-app"], []),
        Listed([], ["127.0.0.1:5999/bench/gemini-service@sha256:abc"]),
        Listed(["127.0.0.1:59990/other:1"], []),  # another port that starts the same
    ]
    removed: list[str] = []
    monkeypatch.setattr(docker_engine, "remove_image", lambda _client, ref: removed.append(ref))
    stopped: list[bool] = []
    monkeypatch.setattr(local_registry, "down", lambda spec, purge: stopped.append(purge))
    spec = local_registry.LocalRegistry(state_dir=tmp_path, port=5999)

    releases.forget(make_run(tmp_path, engine), spec)

    assert stopped == [True]
    assert removed == [
        "127.0.0.1:5999/bench/gemini-service:first",
        "127.0.0.1:5999/bench/gemini-service@sha256:abc",
    ]


def test_the_bad_release_cannot_pass_its_health_check() -> None:
    assert "GEMINI_TEMPERATURE=very-hot" in releases.DERIVED["bad"]
    assert "ENV" not in releases.DERIVED["second"]  # a good release: metadata only
