"""Build arguments, tags, preflight and the build orchestration (no engine)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import config, docker_engine, image_checks, images, lockfile, sbom
from gemini_workflow.errors import WorkflowError
from tests.gemini_workflow import sbom_samples
from tests.gemini_workflow.image_samples import HISTORY, inspect_data

ROOT = Path(__file__).resolve().parents[2]
INFO = images.SourceInfo(
    version="1.2.3",
    revision="0123456789abcdef0123456789abcdef01234567",
    dirty=False,
    created="2026-01-02T03:04:05Z",
    source_url="https://example.com/repo",
    licenses="Apache-2.0",
)


def project_defaults() -> Any:
    return copy.deepcopy(config.DEFAULTS)


# --- tags, arguments, options ----------------------------------------------------------


def test_tags_are_version_and_short_sha() -> None:
    assert images.image_tags(INFO) == ("1.2.3", "sha-0123456")


def test_dirty_tree_marks_the_sha_tag() -> None:
    dirty = images.SourceInfo(**{**INFO.__dict__, "dirty": True})
    assert images.image_tags(dirty) == ("1.2.3", "sha-0123456-dirty")


def test_online_build_args_carry_labels_and_use_the_index() -> None:
    args = images.build_args(
        INFO, python_base="python:x@sha256:1", python_version="3.11", offline=False
    )
    assert args["PYTHON_BASE"] == "python:x@sha256:1"
    assert args["REVISION"] == INFO.revision
    assert args["CREATED"] == INFO.created
    assert args["LICENSES"] == "Apache-2.0"
    assert "WHEELHOUSE" not in args
    assert "INDEX_OPTIONS" not in args


def test_offline_build_args_differ_only_in_where_inputs_come_from() -> None:
    online = images.build_args(INFO, python_base="b", python_version="3.11", offline=False)
    offline = images.build_args(INFO, python_base="b", python_version="3.11", offline=True)
    assert {k: v for k, v in offline.items() if k not in online} == {
        "WHEELHOUSE": "local",
        "INDEX_OPTIONS": "--no-index --find-links /wheels",
    }
    assert {k: offline[k] for k in online} == online


@pytest.mark.parametrize("bad", ["3", "3.11.2", "python3.11", ""])
def test_python_version_must_be_major_minor(bad: str) -> None:
    with pytest.raises(WorkflowError, match=r"major\.minor"):
        images.validate_python_version(bad)


def test_target_all_means_both_and_unknown_is_refused() -> None:
    assert images.targets_for("all") == ("app", "fake")
    assert images.targets_for("fake") == ("fake",)
    with pytest.raises(WorkflowError, match="app, fake, all"):
        images.targets_for("web")


def test_fake_image_is_named_after_the_app() -> None:
    assert images.image_name_for("svc", "app") == "svc"
    assert images.image_name_for("svc", "fake") == "svc-fake"


def test_request_uses_config_defaults() -> None:
    config = project_defaults()
    request = images.request_from_config(config, root=ROOT)
    assert request.name == "gemini-service"
    assert request.python_base == config["images"]["python"]
    assert request.targets == ("app", "fake")
    assert not request.offline
    assert request.budgets == image_checks.Budgets.from_config(config["image"]["budgets"])


def test_request_offline_uses_the_recorded_stand_in() -> None:
    config = project_defaults()
    config = {**config, "offline": True, "images": {"python": "gemini-local/python:3.11"}}
    request = images.request_from_config(config, root=ROOT, target="app", name="mine")
    assert (request.offline, request.python_base, request.targets, request.name) == (
        True,
        "gemini-local/python:3.11",
        ("app",),
        "mine",
    )


def test_other_python_version_online_uses_that_official_image() -> None:
    request = images.request_from_config(project_defaults(), root=ROOT, python_version="3.12")
    assert request.python_base == "python:3.12-slim-bookworm"
    assert request.python_version == "3.12"


def test_dockerfile_default_base_is_the_pinned_config_base() -> None:
    """One pin, two places (Dockerfile default for plain `docker build`, config for tasks)."""
    text = (ROOT / images.DOCKERFILE).read_text()
    default = re.search(r"^ARG PYTHON_BASE=(\S+)$", text, re.MULTILINE)
    assert default is not None
    assert default.group(1) == project_defaults()["images"]["python"]
    assert re.fullmatch(r"python:[\w.-]+@sha256:[0-9a-f]{64}", default.group(1))


# --- git and pyproject -------------------------------------------------------------------


def make_repo(path: Path) -> None:
    (path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "4.5.6"\nlicense = "MIT"\n'
        '[project.urls]\nSource = "https://example.com/x"\n'
    )
    env = {
        "GIT_AUTHOR_DATE": "2026-03-04T05:06:07+02:00",
        "GIT_COMMITTER_DATE": "2026-03-04T05:06:07+02:00",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True, env=env)


def test_source_info_comes_from_pyproject_and_the_commit(tmp_path: Path) -> None:
    make_repo(tmp_path)
    info = images.read_source_info(tmp_path)
    assert (info.version, info.licenses, info.source_url) == (
        "4.5.6",
        "MIT",
        "https://example.com/x",
    )
    assert info.created == "2026-03-04T03:06:07Z"  # the commit time, in UTC
    assert re.fullmatch(r"[0-9a-f]{40}", info.revision)
    assert not info.dirty


def test_a_modified_tracked_file_makes_the_tree_dirty(tmp_path: Path) -> None:
    make_repo(tmp_path)
    (tmp_path / "pyproject.toml").write_text((tmp_path / "pyproject.toml").read_text() + "\n")
    assert images.read_source_info(tmp_path).dirty


def test_a_new_file_in_the_image_inputs_makes_the_tree_dirty(tmp_path: Path) -> None:
    make_repo(tmp_path)
    (tmp_path / "notes.txt").write_text("not built into the image\n")
    assert not images.read_source_info(tmp_path).dirty
    (tmp_path / "src/gemini_service").mkdir(parents=True)
    (tmp_path / "src/gemini_service/new.py").write_text("x = 1\n")
    assert images.read_source_info(tmp_path).dirty


def test_outside_git_the_error_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    with pytest.raises(WorkflowError, match="git clone"):
        images.read_source_info(tmp_path)


# --- preflight and orchestration ------------------------------------------------------------


def copy_inputs(root: Path) -> Path:
    (root / "containers").mkdir()
    inputs = (
        "pyproject.toml",
        "uv.lock",
        "containers/Dockerfile",
        "containers/requirements.lock",
        "containers/build.lock",
    )
    for rel in inputs:
        (root / rel).write_text((ROOT / rel).read_text())
    return root


def request(root: Path, **overrides: Any) -> images.BuildRequest:
    return images.BuildRequest(root=root, name="gemini-service", python_base="base:1", **overrides)


def test_preflight_refuses_a_stale_lock(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    lock = root / lockfile.LOCK
    lock.write_text(lock.read_text().replace("fastapi==", "fastapi==0.0.1\n# was "))
    with pytest.raises(WorkflowError, match=r"invoke images\.lock"):
        images.preflight(request(root))


def test_preflight_refuses_secret_names_in_the_dockerfile(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    dockerfile = root / images.DOCKERFILE
    dockerfile.write_text(dockerfile.read_text() + "\nARG GEMINI_API_KEY\n")
    with pytest.raises(WorkflowError, match="ARG GEMINI_API_KEY"):
        images.preflight(request(root))


def test_preflight_offline_needs_a_wheelhouse(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    with pytest.raises(WorkflowError, match="invoke bootstrap"):
        images.preflight(request(root, offline=True))


@pytest.mark.parametrize("name", ["Gemini", "-x", "a b", ""])
def test_preflight_refuses_bad_image_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(WorkflowError, match="--name"):
        images.preflight(
            images.BuildRequest(root=copy_inputs(tmp_path), name=name, python_base="b")
        )


class FakeEngine:
    """Stands in for docker_engine's functions: records builds, tags and removals."""

    def __init__(self, inspect: dict[str, Any], fail_target: str = "") -> None:
        self.inspect = inspect
        self.fail_target = fail_target
        self.images: dict[str, dict[str, Any]] = {"base:1": {"Size": 169_000_000}}
        self.removed: list[str] = []

    def build(self, spec: docker_engine.BuildSpec, *, quiet: bool = False) -> None:
        if spec.target == self.fail_target:
            raise WorkflowError("building failed")
        self.last_args = dict(spec.build_args)
        self.network = spec.network
        for tag in spec.tags:
            self.images[tag] = self.inspect

    def inspect_image(self, client: Any, ref: str) -> dict[str, Any] | None:
        return self.images.get(ref)

    def tag_image(self, client: Any, source: str, target: str) -> None:
        self.images[target] = self.images[source]

    def remove_image(self, client: Any, ref: str) -> None:
        self.removed.append(ref)
        self.images.pop(ref, None)


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "read_source_info", lambda root: INFO)
    monkeypatch.setattr(images, "preflight", lambda request: None)
    return


def install(monkeypatch: pytest.MonkeyPatch, fake: FakeEngine) -> None:
    for attr in ("build", "inspect_image", "tag_image", "remove_image"):
        monkeypatch.setattr(docker_engine, attr, getattr(fake, attr))
    monkeypatch.setattr(docker_engine, "image_history", lambda client, ref: HISTORY)
    monkeypatch.setattr(docker_engine, "read_image_files", sbom_samples.read_files())


def test_good_build_tags_both_images_and_drops_temporary_tags(
    monkeypatch: pytest.MonkeyPatch, source: None, tmp_path: Path
) -> None:
    fake = FakeEngine(inspect_data())
    install(monkeypatch, fake)
    reports = images.build_images(request(copy_inputs(tmp_path), offline=True), client=object())
    assert [r.tags for r in reports] == [
        ["gemini-service:1.2.3", "gemini-service:sha-0123456"],
        ["gemini-service-fake:1.2.3", "gemini-service-fake:sha-0123456"],
    ]
    assert not [ref for ref in fake.images if ":build-" in ref]
    assert fake.network == "none"
    assert fake.last_args["WHEELHOUSE"] == "local"
    assert [r.sbom for r in reports] == [
        tmp_path / "build/sbom/gemini-service_sha-0123456.cdx.json",
        tmp_path / "build/sbom/gemini-service-fake_sha-0123456.cdx.json",
    ]
    component = json.loads(
        (tmp_path / "build/sbom/gemini-service-fake_sha-0123456.cdx.json").read_text()
    )["metadata"]["component"]
    assert (component["name"], component["version"]) == ("gemini-service-fake", "sha-0123456")


def test_an_sbom_that_disagrees_with_the_lock_leaves_no_tag_and_no_sbom(
    monkeypatch: pytest.MonkeyPatch, source: None, tmp_path: Path
) -> None:
    fake = FakeEngine(inspect_data())
    install(monkeypatch, fake)
    monkeypatch.setattr(sbom, "python_bom", lambda requirements: {"components": []})
    with pytest.raises(sbom.SbomError, match=r"missing aiohttp==.*invoke images\.lock"):
        images.build_images(request(copy_inputs(tmp_path)), client=object())
    assert set(fake.images) == {"base:1"}
    assert not (tmp_path / "build" / "sbom").exists()


def test_failed_checks_leave_no_tag_behind(monkeypatch: pytest.MonkeyPatch, source: None) -> None:
    fake = FakeEngine(inspect_data(User="root"))
    install(monkeypatch, fake)
    with pytest.raises(image_checks.ImageCheckFailed, match="runs as root") as failure:
        images.build_images(request(ROOT), client=object())
    assert set(fake.images) == {"base:1"}
    assert len(failure.value.reports) == 2  # the table can still be shown


def test_a_failed_second_build_removes_the_first_image(
    monkeypatch: pytest.MonkeyPatch, source: None
) -> None:
    fake = FakeEngine(inspect_data(), fail_target="fake")
    install(monkeypatch, fake)
    with pytest.raises(WorkflowError, match="building failed"):
        images.build_images(request(ROOT), client=object())
    assert set(fake.images) == {"base:1"}
    assert len(fake.removed) == 2


def test_missing_offline_base_says_run_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_engine, "inspect_image", lambda client, ref: None)
    with pytest.raises(WorkflowError, match="invoke bootstrap"):
        images.ensure_base(object(), "gemini-local/python:3.11", offline=True)


def test_unpullable_online_base_suggests_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_engine, "inspect_image", lambda client, ref: None)

    def refuse(ref: str) -> None:
        raise WorkflowError("dial tcp: lookup registry-1.docker.io: no such host")

    monkeypatch.setattr(docker_engine, "pull_image", refuse)
    with pytest.raises(WorkflowError, match=r"unavailable .*invoke bootstrap"):
        images.ensure_base(object(), "python:3.11-slim@sha256:00", offline=False)


def test_pulled_base_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    store: dict[str, Any] = {}
    monkeypatch.setattr(docker_engine, "inspect_image", lambda client, ref: store.get(ref))
    monkeypatch.setattr(docker_engine, "pull_image", lambda ref: store.update({ref: {"Size": 1}}))
    assert images.ensure_base(object(), "python:3.11", offline=False) == {"Size": 1}


def test_a_failed_online_build_suggests_the_offline_path(
    monkeypatch: pytest.MonkeyPatch, source: None
) -> None:
    fake = FakeEngine(inspect_data(), fail_target="app")
    install(monkeypatch, fake)
    with pytest.raises(WorkflowError, match=r"building failed Online builds .*invoke bootstrap"):
        images.build_images(request(ROOT), client=object())


def test_a_missing_engine_is_reported_as_such(
    monkeypatch: pytest.MonkeyPatch, source: None
) -> None:
    def no_engine(spec: docker_engine.BuildSpec, *, quiet: bool = False) -> None:
        raise docker_engine.EngineUnavailable("no Docker engine reachable")

    install(monkeypatch, FakeEngine(inspect_data()))
    monkeypatch.setattr(docker_engine, "build", no_engine)
    with pytest.raises(docker_engine.EngineUnavailable, match=r"^no Docker engine reachable$"):
        images.build_images(request(ROOT), client=object())
