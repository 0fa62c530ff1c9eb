"""`invoke deploy.render`: from the release record to files, a summary and the commands."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from invoke.config import Config
from invoke.context import MockContext
from invoke.exceptions import Exit

from gemini_workflow import config
from gemini_workflow.deploy import commands, render
from tests.gemini_workflow.deploy.conftest import APP, AR_APP


def settings() -> dict[str, Any]:
    return copy.deepcopy(config.DEFAULTS)


def record(repo: Path, ref: str = str(APP)) -> None:
    image, _, digest = ref.partition("@")
    path = repo / "build" / "release.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {"tags": [], "version": "0.1.0", "revision": "abc", "pushed_at": "now"}
    path.write_text(json.dumps({"image": image, "digest": digest, **fields}))


def test_render_writes_the_release_record_pinned_and_prints_the_docs_commands(
    tasks: Any, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record(repo)
    monkeypatch.setattr(tasks, "ROOT", repo)
    c = MockContext(config=Config(overrides=settings()))
    tasks.deploy_render(c, target="kubernetes", overlay="fake-upstream")
    out = capsys.readouterr().out
    manifests = repo / "build/deploy/kubernetes" / render.MANIFESTS
    assert str(APP) in manifests.read_text()
    assert "valid Kubernetes 1.35 and 1.37" in out
    assert "created .local/client-keys" in out
    assert (repo / ".local/client-keys").stat().st_mode & 0o777 == 0o600
    for line in commands.script(
        "kubernetes", "fake-upstream", "build/deploy", ".local/client-keys"
    ):
        assert line in out


def test_render_for_cloud_run_by_ref(
    tasks: Any, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tasks, "ROOT", repo)
    c = MockContext(config=Config(overrides=settings()))
    tasks.deploy_render(c, target="cloudrun", ref=str(AR_APP))
    assert str(AR_APP) in (repo / "build/deploy/cloudrun/service.yaml").read_text()
    assert (
        "gcloud run services replace build/deploy/cloudrun/service.yaml" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, r"--target \(none\): choose one of kubernetes, cloudrun"),
        ({"target": "nomad"}, "--target nomad: choose one of"),
        ({"target": "cloudrun", "overlay": "base"}, "--overlay applies to --target kubernetes"),
        ({"target": "kubernetes", "fake_ref": str(APP)}, "--fake-ref applies to --overlay fake"),
        ({"target": "kubernetes", "overlay": "prod"}, "--overlay prod: choose one of base, fake"),
        ({"target": "kubernetes", "ref": "127.0.0.1:5000/a/b:1.0"}, "names a tag, not a digest"),
        ({"target": "kubernetes"}, "no release record at .*invoke push"),
    ],
)
def test_render_refuses_what_it_cannot_pin_or_place(
    tasks: Any,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, str],
    message: str,
) -> None:
    monkeypatch.setattr(tasks, "ROOT", repo)
    with pytest.raises(Exit, match=message):
        tasks.deploy_render(MockContext(config=Config(overrides=settings())), **options)
    assert not (repo / "build/deploy").exists() or not any((repo / "build/deploy").iterdir())


def test_the_output_folder_follows_the_config(repo: Path) -> None:
    record(repo)
    cfg = settings()
    cfg["deploy"]["render_dir"] = "out/manifests"
    result = render.render_from_config(cfg, root=repo, target="kubernetes")
    assert result.directory == repo / "out/manifests/kubernetes"
    assert (result.directory / "base" / "kustomization.yaml").is_file()
