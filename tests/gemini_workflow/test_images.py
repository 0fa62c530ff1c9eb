"""Build arguments, tags, secret and policy checks, and the build orchestration (no engine)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from invoke.collection import Collection
from invoke.loader import FilesystemLoader
from rich.console import Console

from gemini_workflow import docker_engine, images, lockfile
from gemini_workflow.errors import WorkflowError

ROOT = Path(__file__).resolve().parents[2]
INFO = images.SourceInfo(
    version="1.2.3",
    revision="0123456789abcdef0123456789abcdef01234567",
    dirty=False,
    created="2026-01-02T03:04:05Z",
    source_url="https://example.com/repo",
    licenses="Apache-2.0",
)
BUDGETS = images.Budgets(max_size_mb=300, max_added_mb=100, max_layers=8)
GOOD_CONFIG = {
    "User": "10001:10001",
    "Healthcheck": {"Test": ["CMD", "python", "-m", "gemini_service.healthcheck"]},
    "Env": ["PATH=/opt/venv/bin:/usr/bin", "PORT=8000", "GEMINI_MODEL=gemini-2.5-flash"],
    "Labels": {"org.opencontainers.image.version": "1.2.3"},
}


def inspect_data(size_mb: float = 230, layers: int = 4, **config: Any) -> dict[str, Any]:
    return {
        "Id": "sha256:abc",
        "Size": int(size_mb * images.MB),
        "RootFS": {"Layers": [f"sha256:{i}" for i in range(layers)]},
        "Config": {**GOOD_CONFIG, **config},
    }


HISTORY = [
    {"CreatedBy": 'ENTRYPOINT ["python" "-m" "gemini_service"]', "Size": 0},
    {"CreatedBy": "COPY /opt/project/ /opt/venv/lib/python3.11/site-packages/", "Size": 211_000},
    {"CreatedBy": "COPY /opt/venv /opt/venv # buildkit", "Size": 60_200_000},
    {"CreatedBy": "", "Size": 169_000_000},
]
BASE = {"Size": 169_000_000}


def project_defaults() -> Any:
    module, _ = FilesystemLoader(start=str(ROOT)).load("tasks")
    return Collection.from_module(module).configuration()


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
    assert request.budgets == images.Budgets.from_config(config["image"]["budgets"])


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


def test_caller_api_key_becomes_a_known_secret_only_when_plausible() -> None:
    assert images.known_secret_values({"GEMINI_API_KEY": "AIzaSomethingLong"}) == [
        "AIzaSomethingLong"
    ]
    assert images.known_secret_values({"GEMINI_API_KEY": "x"}) == []
    assert images.known_secret_values({}) == []


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


# --- secrets -----------------------------------------------------------------------------


def test_the_real_dockerfile_declares_no_secret_looking_names() -> None:
    assert images.dockerfile_secret_names((ROOT / images.DOCKERFILE).read_text()) == []


def test_secret_looking_arg_and_env_names_are_found() -> None:
    dockerfile = (
        "FROM x\nARG API_TOKEN\nARG VERSION=1 GITHUB_PAT_TOKEN=2\n"
        "ENV DB_PASSWORD=hunter2 \\\n    PORT=8000\nENV LEGACY_SECRET value\n"
        "ENV GEMINI_API_KEY_FILE=/run/secrets/key\n"
    )
    assert images.dockerfile_secret_names(dockerfile) == [
        "ARG API_TOKEN",
        "ARG GITHUB_PAT_TOKEN",
        "ENV DB_PASSWORD",
        "ENV LEGACY_SECRET",
    ]


def test_clean_image_has_no_secret_findings() -> None:
    assert images.find_secrets(inspect_data(), HISTORY) == []


def test_the_official_python_images_own_metadata_is_not_a_secret() -> None:
    """Public key IDs and checksums in python:*-slim must not fail every online build."""
    env = [
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "PYTHON_VERSION=3.11.14",
        "PYTHON_SHA256=8d3ed8ec5c88c1c95f5e558612a725450d2452813ddad5e58fdb1a53b1209b78",
    ]
    history = [
        {"CreatedBy": "ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D"},
        {"CreatedBy": '/bin/sh -c gpg --batch --recv-keys "$GPG_KEY"; export GNUPGHOME'},
    ]
    assert images.find_secrets(inspect_data(Env=env), history) == []


@pytest.mark.parametrize(
    ("where", "inspect", "history"),
    [
        ("history", inspect_data(), [{"CreatedBy": "|1 API_KEY=abcd1234 /bin/sh -c make"}]),
        ("env", inspect_data(Env=["SERVICE_TOKEN=s3cr3tvalue"]), []),
        ("label", inspect_data(Labels={"k": "AIza" + "A" * 35}), []),
        ("history", inspect_data(), [{"CreatedBy": "RUN echo -----BEGIN RSA PRIVATE KEY-----"}]),
    ],
)
def test_secret_looking_values_are_found(where: str, inspect: Any, history: Any) -> None:
    findings = images.find_secrets(inspect, history)
    assert findings
    assert all(where in finding for finding in findings)


def test_the_callers_key_value_is_found_anywhere() -> None:
    inspect = inspect_data(Labels={"note": "built with my-own-key-123"})
    assert images.find_secrets(inspect, [], known=["my-own-key-123"]) == [
        "the value of GEMINI_API_KEY in label note"
    ]


def test_findings_never_echo_the_secret() -> None:
    findings = images.find_secrets(inspect_data(Env=["SERVICE_TOKEN=s3cr3tvalue"]), [])
    assert "s3cr3tvalue" not in " ".join(findings)


def test_stream_search_finds_needles_across_chunk_borders() -> None:
    chunks = [b"....CANA", b"RY....", b"x"]
    assert images.find_in_stream(chunks, [b"CANARY", b"absent"]) == {b"CANARY"}
    assert images.find_in_stream(chunks, []) == set()


# --- policies and report ------------------------------------------------------------------


def test_a_good_image_passes_and_is_measured() -> None:
    report = images.examine("app", inspect_data(), HISTORY, BASE, BUDGETS)
    assert report.problems == []
    assert report.layers == 4
    assert report.added == report.size - 169_000_000
    assert [size for size, _ in report.biggest] == [169_000_000, 60_200_000, 211_000]
    assert report.biggest[0][1] == "(base image)"


@pytest.mark.parametrize(
    ("inspect", "problem"),
    [
        (inspect_data(size_mb=301), "budget 300 MB"),
        (inspect_data(size_mb=270), "over the base > budget 100 MB"),
        (inspect_data(layers=9), "9 layers > budget 8"),
        (inspect_data(User=""), "runs as root"),
        (inspect_data(User="0:0"), "runs as root"),
        (inspect_data(User="root"), "runs as root"),
        (inspect_data(Healthcheck=None), "no HEALTHCHECK"),
        (inspect_data(Healthcheck={"Test": ["NONE"]}), "no HEALTHCHECK"),
        (inspect_data(Env=["AUTH_TOKEN=abcdefgh"]), "possible secret"),
    ],
)
def test_each_policy_violation_is_reported(inspect: Any, problem: str) -> None:
    report = images.examine("app", inspect, HISTORY, BASE, BUDGETS)
    assert any(problem in p for p in report.problems), report.problems


def test_report_table_shows_size_growth_layers_and_biggest_layers() -> None:
    report = images.examine("app", inspect_data(), HISTORY, BASE, BUDGETS)
    report.tags = ["gemini-service:1.2.3"]
    console = Console(width=160, record=True)
    console.print(images.report_table([report]))
    text = console.export_text()
    assert "gemini-service:1.2.3" in text
    assert "230.0 MB" in text
    assert "+61.0 MB" in text
    assert "COPY /opt/venv /opt/venv" in text


def test_history_lines_are_shortened_to_their_gist() -> None:
    line = "|2 PYTHON_VERSION=3.11 INDEX_OPTIONS= /bin/sh -c python3 -m venv /opt/venv # buildkit"
    assert images.short(line) == "python3 -m venv /opt/venv"
    assert images.short("x" * 100, 10) == "x" * 9 + "…"


# --- preflight and orchestration ------------------------------------------------------------


def copy_inputs(root: Path) -> Path:
    (root / "containers").mkdir()
    inputs = ("pyproject.toml", "uv.lock", "containers/Dockerfile", "containers/requirements.lock")
    for rel in inputs:
        (root / rel).write_text((ROOT / rel).read_text())
    return root


def request(root: Path, **overrides: Any) -> images.BuildRequest:
    return images.BuildRequest(root=root, name="gemini-service", python_base="base:1", **overrides)


def test_preflight_refuses_a_stale_lock(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    lock = root / lockfile.LOCK
    lock.write_text(lock.read_text().replace("fastapi==", "fastapi==0.0.1\n# was "))
    with pytest.raises(WorkflowError, match="invoke lock"):
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


def test_good_build_tags_both_images_and_drops_temporary_tags(
    monkeypatch: pytest.MonkeyPatch, source: None
) -> None:
    fake = FakeEngine(inspect_data())
    install(monkeypatch, fake)
    reports = images.build_images(request(ROOT, offline=True), client=object())
    assert [r.tags for r in reports] == [
        ["gemini-service:1.2.3", "gemini-service:sha-0123456"],
        ["gemini-service-fake:1.2.3", "gemini-service-fake:sha-0123456"],
    ]
    assert not [ref for ref in fake.images if ":build-" in ref]
    assert fake.network == "none"
    assert fake.last_args["WHEELHOUSE"] == "local"


def test_failed_checks_leave_no_tag_behind(monkeypatch: pytest.MonkeyPatch, source: None) -> None:
    fake = FakeEngine(inspect_data(User="root"))
    install(monkeypatch, fake)
    with pytest.raises(images.ImageCheckFailed, match="runs as root") as failure:
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
