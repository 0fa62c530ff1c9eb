"""The release flow against a real registry on a real engine: push, immutability, verify.

The registry is the project's own local registry (`gemini_workflow.local_registry`, the same
code as `invoke registry.up`) on a free port with temporary storage. Pushes run from a
temporary clone of the repository, so a dirty-tree test never touches the real tree, and
push images derived from the built app image with a unique label, so removing "the local
copies" during verify removes only what the test made.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import invoke
import pytest

from gemini_workflow import local_registry, lockfile, publish, referrers, verify
from gemini_workflow.ports import free_port
from gemini_workflow.registry import RegistryClient
from gemini_workflow.release import ImageReference, ReleaseError, Repository

ROOT = Path(__file__).resolve().parents[2]
VERSION = "1.2.0"  # written into the clone: a 1.x release gets every kind of tag
TEST_LABEL = "org.gemini-service.smoke"

pytestmark = pytest.mark.engine


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=smoke", "-c", "user.email=smoke@example.com"]
    return subprocess.run(
        ["git", "-C", str(repo), *identity, *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def app_image(built_images: dict[str, str]) -> str:
    """The app image of this session's build (conftest), the base of every pushed image."""
    return built_images["app"]


def _pyproject_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clean clone of the committed repository, at version 1.2.0."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace(f'version = "{_pyproject_version()}"', f'version = "{VERSION}"')
    )
    # uv.lock records the project's own version: bump it there too, as `invoke images.lock`
    # would, or `invoke build` refuses the stale lock. Edited, not relocked: a relock needs
    # PyPI or a warm uv cache, and CI starts with neither.
    lock = repo / lockfile.UV_LOCK
    entry = 'name = "gemini-service"\nversion = "{}"\n'
    lock.write_text(
        lock.read_text().replace(entry.format(_pyproject_version()), entry.format(VERSION))
    )
    lockfile.check(repo)
    git(repo, "commit", "-qam", "release 1.2.0")
    return repo


@pytest.fixture
def make_image(engine: Any, app_image: str) -> Iterator[Callable[..., str]]:
    """Images derived from the app image that differ only by a label: new content, no new
    layers. Named for the clone's commit, the way `invoke build` names its images."""
    made: list[str] = []

    def make(local_name: str, revision: str, version: str = VERSION) -> str:
        tag = f"{local_name}:sha-{revision[:7]}"
        dockerfile = (
            f"FROM {app_image}\nLABEL {TEST_LABEL}={secrets.token_hex(8)} "
            f"org.opencontainers.image.version={version} "
            f"org.opencontainers.image.revision={revision}\n"
        )
        image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
        made.append(image.id)
        return tag

    yield make
    # By id, not by tag: a later image may have taken the tag, leaving this one dangling.
    # The id is this test's alone (random label): removing it also drops the names and repo
    # digests that pushes and pulls gave it, and touches no one else's image.
    for image_id in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(image_id, force=True)


def push(
    repo: Path,
    registry: local_registry.LocalRegistry,
    namespace: str,
    local_name: str,
    *,
    force: bool = False,
) -> publish.PushResult:
    def no_build() -> None:
        raise AssertionError("the image exists; push must not build")

    return publish.push_release(
        root=repo,
        repository=Repository(registry.address, f"{namespace}/gemini-service"),
        image_name=local_name,
        force=force,
        record_path=repo / "build" / "release.json",
        build=no_build,
    )


def tag_digests(client: RegistryClient, path: str) -> dict[str, str | None]:
    """Release tags only: the SBOM's referrers tag (sha256-<hex>) is test_sbom.py's."""
    tags = [tag for tag in client.tags(path) if not referrers.is_referrers_tag(tag)]
    return {tag: client.manifest_digest(path, tag) for tag in tags}


def local_name() -> str:
    return f"gs-smoke-{secrets.token_hex(4)}/gemini-service"


def test_push_creates_exactly_the_release_tags_on_one_digest(
    clone: Path, registry: local_registry.LocalRegistry, make_image: Callable[..., str]
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    make_image(name, revision)

    result = push(clone, registry, "tags", name)

    client = registry.client()
    digests = tag_digests(client, "tags/gemini-service")
    assert sorted(digests) == sorted(["1.2.0", "1.2", "1", f"sha-{revision[:7]}", "latest"])
    assert set(digests.values()) == {result.record.digest}
    assert result.record.ref == f"{registry.address}/tags/gemini-service@{result.record.digest}"
    assert result.record.revision == revision
    assert (clone / "build" / "release.json").exists()
    assert result.uploaded_layers > 0


def test_second_push_of_same_version_and_content_is_a_noop(
    clone: Path, registry: local_registry.LocalRegistry, make_image: Callable[..., str]
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    make_image(name, revision)
    first = push(clone, registry, "again", name)
    before = tag_digests(registry.client(), "again/gemini-service")

    second = push(clone, registry, "again", name)

    assert second.plan.is_noop
    assert second.uploaded_layers == 0
    assert second.record.digest == first.record.digest
    assert tag_digests(registry.client(), "again/gemini-service") == before


def test_same_version_with_different_content_is_refused_unless_forced(
    clone: Path, registry: local_registry.LocalRegistry, make_image: Callable[..., str]
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    make_image(name, revision)
    first = push(clone, registry, "immutable", name)
    make_image(name, revision)  # same name and commit, new content (another label)

    with pytest.raises(ReleaseError, match=r"immutable/gemini-service:1\.2\.0 already points to"):
        push(clone, registry, "immutable", name)
    untouched = tag_digests(registry.client(), "immutable/gemini-service")
    assert set(untouched.values()) == {first.record.digest}

    forced = push(clone, registry, "immutable", name, force=True)
    moved = tag_digests(registry.client(), "immutable/gemini-service")
    assert forced.record.digest != first.record.digest
    assert set(moved.values()) == {forced.record.digest}


def test_a_hotfix_for_an_older_line_leaves_latest_on_the_newest_release(
    clone: Path, registry: local_registry.LocalRegistry, make_image: Callable[..., str]
) -> None:
    name = local_name()
    make_image(name, git(clone, "rev-parse", "HEAD").strip())
    newest = push(clone, registry, "hotfix", name)  # 1.2.0
    pyproject = clone / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'"{VERSION}"', '"1.1.5"'))
    git(clone, "commit", "-qam", "hotfix 1.1.5")
    make_image(name, git(clone, "rev-parse", "HEAD").strip(), "1.1.5")

    hotfix = push(clone, registry, "hotfix", name)

    digests = tag_digests(registry.client(), "hotfix/gemini-service")
    assert digests["latest"] == digests["1"] == digests["1.2"] == newest.record.digest
    assert digests["1.1.5"] == digests["1.1"] == hotfix.record.digest
    assert "latest" not in hotfix.record.tags


def test_dirty_tree_is_refused_before_anything_is_pushed(
    clone: Path, registry: local_registry.LocalRegistry, make_image: Callable[..., str]
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    make_image(name, revision)
    (clone / "README.md").write_text("uncommitted change\n")

    with pytest.raises(ReleaseError, match=r"uncommitted changes \(README.md\)"):
        push(clone, registry, "dirty", name)
    assert registry.client().tags("dirty/gemini-service") == []


def test_verify_pulls_by_digest_and_gets_a_healthy_container_answering_generate(
    clone: Path,
    registry: local_registry.LocalRegistry,
    make_image: Callable[..., str],
    engine: Any,
    built_images: dict[str, str],
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    local_tag = make_image(name, revision)
    pushed = push(clone, registry, "verify", name)
    image_id = engine.images.get(local_tag).id

    report = verify.verify(
        engine,
        registry.client(),
        ImageReference.parse(f"{registry.address}/verify/gemini-service:1.2.0"),
        fake_image=built_images["fake"],
        timeout=90,
    )

    assert report.ref == pushed.record.ref  # the tag was pinned to its digest
    assert report.image_id == image_id
    assert local_tag in report.removed_tags  # the local copy was really gone before the pull
    pulled = engine.images.get(image_id)
    assert pushed.record.ref in pulled.attrs["RepoDigests"]
    assert local_tag in pulled.tags  # and its local name is back
    assert report.health == "healthy"
    assert report.generated_text
    mine = {"label": f"{verify.LABEL}={report.run_id}"}
    leftovers = engine.containers.list(all=True, filters=mine)
    assert (leftovers, engine.networks.list(filters=mine)) == ([], [])


def test_verify_needs_nothing_but_the_registry(
    clone: Path,
    registry: local_registry.LocalRegistry,
    make_image: Callable[..., str],
    engine: Any,
) -> None:
    """Without a local fake image (a deploy host), the fake runs from the pulled image."""
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    make_image(name, revision)
    pushed = push(clone, registry, "bare", name)

    report = verify.verify(
        engine,
        registry.client(),
        ImageReference.parse(pushed.record.ref),
        fake_image=f"gs-smoke-absent-{secrets.token_hex(4)}:none",
        timeout=90,
    )

    assert any("ran the fake from the pulled image" in note for note in report.notes)
    assert report.health == "healthy"
    assert report.generated_text


def test_invoke_push_builds_pushes_verifies_and_records(
    clone: Path, registry: local_registry.LocalRegistry, engine: Any
) -> None:
    """The whole flow as a user runs it: no image for the commit yet, so push builds it."""
    token = secrets.token_hex(4)
    source = clone / "src" / "gemini_service" / "__init__.py"
    source.write_text(source.read_text() + f"# smoke {token}: content no other image has\n")
    git(clone, "commit", "-qam", f"smoke {token}")
    # The clone is a new checkout on this host: bootstrap it, starting from this checkout's
    # git-ignored host state so that only what the committed lock changed is downloaded.
    for ignored in ("invoke.yaml", "build/wheelhouse", "build/wheelhouse.sha256"):
        if (ROOT / ignored).is_dir():
            shutil.copytree(ROOT / ignored, clone / ignored)
        elif (ROOT / ignored).exists():
            shutil.copy2(ROOT / ignored, clone / ignored)
    name = f"gs-smoke-{token}-gemini-service"
    env = {**os.environ, "INVOKE_IMAGE_NAME": name, "COLUMNS": "200"}

    def invoke_in_clone(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    try:
        bootstrap = invoke_in_clone("bootstrap")
        assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr
        result = invoke_in_clone("push", "--registry", f"{registry.address}/cli")
        assert result.returncode == 0, result.stdout + result.stderr
        record = json.loads((clone / "build" / "release.json").read_text())
        assert record["version"] == VERSION
        assert record["ref"] == f"{registry.address}/cli/{name}@{record['digest']}"
        assert f"verified {record['ref']}" in " ".join(result.stdout.split())
        assert record["sbom"] in " ".join(result.stdout.split())  # attached, then verified
        digests = tag_digests(registry.client(), f"cli/{name}")
        assert set(digests.values()) == {record["digest"]}
    finally:
        _remove_names(engine, [name, f"{name}-fake", f"{registry.address}/cli/{name}"])


def _remove_names(engine: Any, repositories: list[str]) -> None:
    """Drop only the names this test created (the ids may be shared with other builds)."""
    for image in engine.images.list():
        for ref in image.tags + (image.attrs.get("RepoDigests") or []):
            if ref.rpartition("@")[0] in repositories or ref.rpartition(":")[0] in repositories:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    engine.images.remove(ref, noprune=False)


@pytest.fixture
def registry_image(engine: Any, invoke_config: invoke.Config) -> Iterator[str]:
    """The image `registry.up` runs where Docker Hub answers; offline, a stand-in with the
    same layout (Debian's build of the same program, config in /etc/docker/registry)."""
    if not invoke_config.offline:
        yield local_registry.OFFICIAL_IMAGE
        return
    tag = f"gs-smoke-registry:{secrets.token_hex(4)}"
    config = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n"
    config += "http:\n  addr: :5000\n"
    dockerfile = (
        f"FROM {invoke_config.images.python}\n"
        "COPY docker-registry /bin/registry\n"
        "COPY config.yml /etc/docker/registry/config.yml\n"
        'ENTRYPOINT ["/bin/registry", "serve", "/etc/docker/registry/config.yml"]\n'
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        tar.add(local_registry.ensure_binary(), arcname="docker-registry")
        for name, text in (("Dockerfile", dockerfile), ("config.yml", config)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    context.seek(0)
    engine.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    try:
        yield tag
    finally:
        engine.images.remove(tag, noprune=False)


def test_registry_as_a_container_starts_once_serves_keeps_storage_and_stops(
    tmp_path: Path, engine: Any, registry_image: str
) -> None:
    spec = local_registry.LocalRegistry(
        state_dir=tmp_path / "registry",
        port=free_port(),
        use_container=True,
        image=registry_image,
        container_name=f"gs-smoke-registry-{secrets.token_hex(4)}",
    )
    try:
        assert local_registry.up(spec).startswith("started the local registry")
        assert local_registry.up(spec) == f"the local registry already runs on {spec.address}"
        assert spec.client().tags("nothing/here") == []
        container = engine.containers.get(spec.container_name)
        mounts = {m["Destination"]: m["Source"] for m in container.attrs["Mounts"]}
        assert mounts["/var/lib/registry"] == str(spec.data_dir.resolve())
    finally:
        said = local_registry.down(spec)
    assert said == f"stopped the registry on {spec.address}"
    assert not spec.client().ping()
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(spec.container_name)
