"""`invoke push` orchestration with an in-memory engine and registry: what is pushed, what is
refused before any upload, what is measured and recorded, and how auth failures read.
The same flow against a real engine and registry is in tests/smoke/test_release.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from rich.console import Console

from gemini_workflow import publish, referrers, sbom_release
from gemini_workflow.registry import Blob, Descriptor, Manifest, RegistryAuthError, RegistryError
from gemini_workflow.release import ReleaseError, ReleaseRecord, Repository

REPO = Repository("127.0.0.1:5000", "llm-apps/gemini-service")
IMAGE_ID = "sha256:" + "1" * 64
DIFF_IDS = ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
LAYERS = (Blob("sha256:" + "c" * 64, 70_000_000), Blob("sha256:" + "d" * 64, 12_345))


class FakeRegistry:
    """Tags -> manifests, as the registry HTTP API would report them."""

    def __init__(self) -> None:
        self.tags: dict[str, Manifest] = {}
        self.labels: dict[str, dict[str, str]] = {}  # image id -> labels
        self.fail: Exception | None = None
        self.refuse_attach = False

    def image_labels(self, name: str, config_digest: str) -> dict[str, str]:
        return self.labels.get(config_digest, {})

    def manifest(self, name: str, reference: str) -> Manifest | None:
        if self.fail:
            raise self.fail
        if reference.startswith("sha256:"):
            return next((m for m in self.tags.values() if m.digest == reference), None)
        return self.tags.get(reference)

    def manifest_digest(self, name: str, reference: str) -> str | None:
        manifest = self.manifest(name, reference)
        return manifest and manifest.digest


class FakeImage:
    def __init__(self, engine: FakeEngine, image_id: str, version: str = "1.2.0") -> None:
        self.id = image_id
        self.version = version
        self.labels: dict[str, str] = {}
        self.client = engine
        self.attrs = {"RootFS": {"Layers": DIFF_IDS}}

    def tag(self, repository: str, tag: str) -> None:
        self.client.local[f"{repository}:{tag}"] = self


class FakeImages:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def get(self, name: str) -> FakeImage:
        try:
            return self.engine.local[name]
        except KeyError:
            raise docker.errors.ImageNotFound(name) from None

    def remove(self, name: str, noprune: bool = False) -> None:
        del self.engine.local[name]


class FakeApi:
    """docker push: uploads the layers the registry lacks, then points the tag at a manifest."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.pushed: list[str] = []
        self.events: list[dict[str, Any]] | None = None

    def push(self, repository: str, tag: str, stream: bool, decode: bool) -> Iterator[Any]:
        self.pushed.append(tag)
        if self.events is not None:
            yield from self.events
            return
        image = self.engine.local[f"{repository}:{tag}"]
        known = {layer for m in self.engine.registry.tags.values() for layer in m.layers}
        for diff_id, blob in zip(DIFF_IDS, LAYERS, strict=True):
            short = diff_id[7:19]
            if blob in known:
                yield {"status": "Layer already exists", "id": short}
            else:
                yield {
                    "status": "Pushing",
                    "id": short,
                    "progressDetail": {"current": 1, "total": 2},
                }
                yield {"status": "Pushed", "id": short}
        digest = "sha256:" + image.id[-1] * 63 + "f"
        self.engine.registry.tags[tag] = Manifest(digest, Blob(image.id, 900), LAYERS)
        self.engine.registry.labels[image.id] = {publish.VERSION_LABEL: image.version}


class FakeEngine:
    def __init__(self, registry: FakeRegistry) -> None:
        self.registry = registry
        self.local: dict[str, FakeImage] = {}
        self.images = FakeImages(self)
        self.api = FakeApi(self)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def engine(registry: FakeRegistry) -> FakeEngine:
    return FakeEngine(registry)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed project at version 1.2.0."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.0"\n')
    (root / ".gitignore").write_text("build/\n")  # where the record goes, as in the project
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "."], [*identity, "commit", "-qm", "1.2.0"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


def revision(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def build_into(engine: FakeEngine, repo: Path, image_id: str = IMAGE_ID) -> str:
    name = f"gemini-service:sha-{revision(repo)[:7]}"
    version = (repo / "pyproject.toml").read_text().split('version = "')[1].split('"')[0]
    engine.local[name] = FakeImage(engine, image_id, version)
    return name


def commit_version(repo: Path, version: str) -> None:
    (repo / "pyproject.toml").write_text(f'[project]\nname = "x"\nversion = "{version}"\n')
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(
        ["git", "-C", str(repo), *identity, "commit", "-qam", version],
        check=True,
        capture_output=True,
    )


SBOM_DIGEST = "sha256:" + "5" * 64


@pytest.fixture(autouse=True)
def attached(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """sbom_release.attach, recorded (its registry side is tested in test_sbom_release.py)."""
    calls: list[tuple[str, str, str]] = []

    def attach(registry: Any, name: str, digest: str, sbom_file: Path) -> referrers.Attached:
        if isinstance(registry, FakeRegistry) and registry.refuse_attach:
            raise RegistryAuthError("denied: no push")
        calls.append((name, digest, sbom_file.name))
        return referrers.Attached(
            Descriptor("application/vnd.oci.image.manifest.v1+json", SBOM_DIGEST, 600),
            Blob("sha256:" + "6" * 64, 400_000),
            "tag sha256-" + digest[7:],
            0.05,
        )

    monkeypatch.setattr(sbom_release, "attach", attach)
    return calls


def describe(engine: Any, root: Path, image: str) -> Path:
    """Stands in for sbom.ensure: the SBOM file of the local image."""
    path = root / "build" / "sbom" / f"{image.replace(':', '_')}.cdx.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return path


def push(
    repo: Path, engine: FakeEngine, registry: FakeRegistry, *, force: bool = False, **kw: Any
) -> publish.PushResult:
    kw.setdefault("build", lambda: pytest.fail("the image exists; no build expected"))
    kw.setdefault("describe", describe)
    return publish.push_release(
        root=repo,
        repository=REPO,
        image_name="gemini-service",
        force=force,
        record_path=repo / "build" / "release.json",
        engine=engine,
        registry=registry,  # type: ignore[arg-type]
        **kw,
    )


def test_first_push_uploads_every_layer_and_records_the_digest(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    messages: list[str] = []

    result = push(repo, engine, registry, progress=messages.append)

    assert engine.api.pushed == ["1.2.0", "1.2", "1", f"sha-{revision(repo)[:7]}", "latest"]
    assert {m.digest for m in registry.tags.values()} == {result.record.digest}
    assert (result.uploaded_layers, result.total_layers) == (2, 2)
    assert result.uploaded_bytes == 70_012_345
    record = ReleaseRecord.read(repo / "build" / "release.json")
    assert record == result.record
    assert record.revision == revision(repo)
    assert any("MB" in message for message in messages)
    assert list(engine.local) == [f"gemini-service:sha-{revision(repo)[:7]}"]  # push names gone


def test_the_sbom_is_attached_to_the_pushed_digest_and_recorded(
    repo: Path, engine: FakeEngine, registry: FakeRegistry, attached: list[tuple[str, str, str]]
) -> None:
    build_into(engine, repo)

    result = push(repo, engine, registry)

    sha = revision(repo)[:7]
    assert attached == [(REPO.path, result.record.digest, f"gemini-service_sha-{sha}.cdx.json")]
    assert result.record.sbom == SBOM_DIGEST
    assert ReleaseRecord.read(repo / "build" / "release.json").sbom == SBOM_DIGEST
    line = publish.summary_line(result, Path("build/release.json"))
    assert f"sbom: {SBOM_DIGEST} (400.0 kB) attached to the digest in 0.05 s" in line
    assert "found through the tag sha256-" in line


def test_an_image_whose_sbom_cannot_be_made_is_not_pushed(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)

    def broken(engine: Any, root: Path, image: str) -> Path:
        raise ReleaseError("the SBOM does not list the packages of the lock")

    with pytest.raises(ReleaseError, match="does not list"):
        push(repo, engine, registry, describe=broken)
    assert engine.api.pushed == []


def test_a_registry_refusing_the_sbom_is_an_auth_failure(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    registry.refuse_attach = True
    with pytest.raises(ReleaseError, match=r"refused our credentials .*docker login"):
        push(repo, engine, registry)
    assert not (repo / "build" / "release.json").exists()


def test_second_push_of_the_same_image_is_a_noop(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    first = push(repo, engine, registry)
    engine.api.pushed.clear()

    second = push(repo, engine, registry)

    assert second.plan.is_noop
    assert engine.api.pushed == []
    assert second.record.digest == first.record.digest
    assert "nothing to push" in publish.summary_line(second, Path("build/release.json"))


def test_other_content_under_a_published_version_is_refused_before_any_upload(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    first = push(repo, engine, registry)
    build_into(engine, repo, image_id="sha256:" + "2" * 64)
    engine.api.pushed.clear()

    with pytest.raises(ReleaseError, match=r"gemini-service:1\.2\.0 already points to"):
        push(repo, engine, registry)
    assert engine.api.pushed == []
    assert registry.tags["1.2.0"].digest == first.record.digest

    forced = push(repo, engine, registry, force=True)
    assert registry.tags["1.2.0"].digest == forced.record.digest != first.record.digest
    assert forced.uploaded_layers == 0  # same layers, new config: nothing big to upload


def test_a_hotfix_for_an_older_line_leaves_latest_on_the_newest_release(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    newest = push(repo, engine, registry)  # 1.2.0
    commit_version(repo, "1.1.5")
    build_into(engine, repo, image_id="sha256:" + "3" * 64)

    hotfix = push(repo, engine, registry)

    assert registry.tags["latest"].digest == newest.record.digest
    assert registry.tags["1"].digest == newest.record.digest
    assert registry.tags["1.1.5"].digest == hotfix.record.digest
    assert registry.tags["1.1"].digest == hotfix.record.digest
    assert hotfix.record.tags == ["1.1.5", "1.1", f"sha-{revision(repo)[:7]}"]
    console = Console(width=250, record=True)
    console.print(publish.summary_table(hotfix))
    assert f"{newest.record.digest} (1.2.0)" in console.export_text()


def test_dirty_tree_is_refused_before_building(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.1"\n')

    with pytest.raises(ReleaseError, match="uncommitted changes"):
        push(repo, engine, registry, build=lambda: pytest.fail("must not build"))


def test_missing_image_for_the_commit_is_built_first(
    repo: Path, engine: FakeEngine, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        publish.docker_engine,
        "inspect_image",
        lambda client, ref: client.local[ref].attrs if ref in client.local else None,
    )
    built: list[str] = []

    def build() -> None:
        built.append(build_into(engine, repo))

    result = push(repo, engine, registry, build=build)

    assert built == [f"gemini-service:sha-{revision(repo)[:7]}"]
    assert result.record.tags[0] == "1.2.0"


def test_push_error_from_the_engine_is_reported(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    engine.api.events = [{"error": "blob upload invalid", "errorDetail": {}}]

    with pytest.raises(ReleaseError, match=r"pushing .*:1\.2\.0 failed: blob upload invalid"):
        push(repo, engine, registry)
    assert list(engine.local) == [f"gemini-service:sha-{revision(repo)[:7]}"]


@pytest.mark.parametrize(
    "error",
    ["no basic auth credentials", "unauthorized: authentication required", "denied: Permission"],
)
def test_auth_errors_while_pushing_become_one_message(
    repo: Path, engine: FakeEngine, registry: FakeRegistry, error: str
) -> None:
    build_into(engine, repo)
    engine.api.events = [{"error": error}]

    with pytest.raises(ReleaseError, match=r"refused our credentials.*docker login 127\.0\.0\.1"):
        push(repo, engine, registry)


def test_auth_error_reading_the_registry_says_how_to_log_in(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    registry.fail = RegistryAuthError("refused HEAD")

    with pytest.raises(ReleaseError, match="refused our credentials"):
        push(repo, engine, registry)


def test_unreachable_local_registry_suggests_registry_up(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    registry.fail = RegistryError("cannot reach the registry at 127.0.0.1:5000")

    with pytest.raises(ReleaseError, match=r"invoke registry\.up"):
        push(repo, engine, registry)


def test_tags_that_disagree_after_the_push_are_an_error(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    stale = Manifest("sha256:" + "9" * 64, Blob(IMAGE_ID, 900), LAYERS)  # same image, other digest
    registry.tags["latest"] = stale

    with pytest.raises(ReleaseError, match="do not share one digest"):
        push(repo, engine, registry)


def test_artifact_registry_message_names_gcloud_and_the_role() -> None:
    message = str(publish.auth_failure("us-docker.pkg.dev", "denied"))
    assert "gcloud auth configure-docker us-docker.pkg.dev" in message
    assert "roles/artifactregistry.writer" in message


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("org.opencontainers.image.version", "1.1.0"),
        ("org.opencontainers.image.revision", "f" * 40),
    ],
)
def test_an_image_whose_labels_disagree_with_the_release_is_refused(
    repo: Path, engine: FakeEngine, registry: FakeRegistry, label: str, value: str
) -> None:
    name = build_into(engine, repo)
    engine.local[name].labels = {label: value}

    with pytest.raises(ReleaseError, match=f"says {label}={value}.*not built from this commit"):
        push(repo, engine, registry)
    assert engine.api.pushed == []


def test_matching_labels_are_accepted(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    name = build_into(engine, repo)
    engine.local[name].labels = {
        "org.opencontainers.image.version": "1.2.0",
        "org.opencontainers.image.revision": revision(repo),
    }
    assert push(repo, engine, registry).record.version == "1.2.0"


def test_missing_local_image_says_build(engine: FakeEngine, registry: FakeRegistry) -> None:
    from gemini_workflow.release import SourceState, parse_version

    with pytest.raises(ReleaseError, match="invoke build"):
        publish.prepare(
            engine,
            registry,  # type: ignore[arg-type]
            repository=REPO,
            local_image="gemini-service:sha-0000000",
            version=parse_version("1.0.0"),
            source=SourceState("0" * 40),
            force=False,
        )


def test_summary_shows_every_tag_with_the_digest(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    result = push(repo, engine, registry)
    console = Console(width=250, record=True)

    console.print(publish.summary_table(result))
    console.print(publish.summary_line(result, Path("build/release.json")))

    text = console.export_text()
    assert text.count(result.record.digest) >= 5
    assert "uploaded 2 of 2 layers (70.0 MB compressed)" in text
    assert f"pin deploys to {result.record.ref}" in text


# --- Artifact Registry credentials ----------------------------------------------------------


class Recorder:
    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, command: list[str], **kwargs: Any) -> Any:
        self.calls.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def test_configured_gcloud_helper_is_left_alone(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"us-docker.pkg.dev": "gcloud"}}))
    run = Recorder()

    done = publish.ensure_artifact_registry_auth(
        "us-docker.pkg.dev", config_path=config, which=lambda _: "/usr/bin/gcloud", run=run
    )

    assert done is None
    assert run.calls == []


def test_gcloud_configures_docker_for_the_host(tmp_path: Path) -> None:
    run = Recorder()

    done = publish.ensure_artifact_registry_auth(
        "europe-docker.pkg.dev",
        config_path=tmp_path / "absent.json",
        which=lambda _: "/usr/bin/gcloud",
        run=run,
    )

    assert run.calls == [
        ["/usr/bin/gcloud", "auth", "configure-docker", "europe-docker.pkg.dev", "--quiet"]
    ]
    assert done is not None
    assert "europe-docker.pkg.dev" in done


def test_without_gcloud_the_exact_commands_are_printed(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"gcloud auth configure-docker us-docker\.pkg\.dev"):
        publish.ensure_artifact_registry_auth(
            "us-docker.pkg.dev", config_path=tmp_path / "absent.json", which=lambda _: None
        )


def test_failing_gcloud_is_an_auth_failure(tmp_path: Path) -> None:
    run = Recorder(returncode=1, stderr="You do not currently have an active account")

    with pytest.raises(ReleaseError, match="active account"):
        publish.ensure_artifact_registry_auth(
            "us-docker.pkg.dev",
            config_path=tmp_path / "absent.json",
            which=lambda _: "/usr/bin/gcloud",
            run=run,
        )


def test_docker_config_path_follows_docker_config_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert publish.docker_config_path() == tmp_path / "config.json"


def test_push_to_artifact_registry_configures_auth_first(
    repo: Path, engine: FakeEngine, registry: FakeRegistry
) -> None:
    build_into(engine, repo)
    hosts: list[str] = []

    def configure(host: str) -> str:
        hosts.append(host)
        return "configured"

    publish.push_release(
        root=repo,
        repository=Repository("us-docker.pkg.dev", "p/llm-apps/gemini-service"),
        image_name="gemini-service",
        force=False,
        record_path=repo / "release.json",
        build=lambda: None,
        engine=engine,
        registry=registry,  # type: ignore[arg-type]
        configure_auth=configure,
        describe=describe,
    )

    assert hosts == ["us-docker.pkg.dev"]
