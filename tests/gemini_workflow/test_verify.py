"""`invoke verify` with an in-memory engine and registry: the order of the proof (blobs, remove,
pull by digest, run, health, /generate), its failure messages, and that it always cleans up.
The real thing (real registry, real containers) is in tests/smoke/test_release.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from gemini_workflow import sbom_release, verify
from gemini_workflow.registry import Blob, Manifest, RegistryAuthError, RegistryError
from gemini_workflow.release import ImageReference, ReleaseError, ReleaseRecord

IMAGE_ID = "sha256:" + "1" * 64
DIGEST = "sha256:" + "d" * 64
LAYER = Blob("sha256:" + "c" * 64, 1000)
REPO = "127.0.0.1:5000/llm-apps/gemini-service"
FAKE = "gemini-service-fake:1.2.0"


class FakeRegistry:
    def __init__(self) -> None:
        self.manifests = {DIGEST: Manifest(DIGEST, Blob(IMAGE_ID, 900), (LAYER,))}
        self.tags = {"1.2.0": DIGEST}
        self.blobs = {IMAGE_ID: 900, LAYER.digest: 1000}
        self.fail: Exception | None = None
        self.sbom_missing = False

    def manifest_digest(self, name: str, reference: str) -> str | None:
        if self.fail:
            raise self.fail
        return self.tags.get(reference)

    def manifest(self, name: str, reference: str) -> Manifest | None:
        return self.manifests.get(reference)

    def blob_size(self, name: str, digest: str) -> int | None:
        return self.blobs.get(digest)


class FakeImage:
    def __init__(self, image_id: str, tags: list[str], repo_digests: list[str]) -> None:
        self.id, self.tags = image_id, tags
        self.attrs = {"RepoDigests": repo_digests}

    def tag(self, repository: str, tag: str) -> None:
        self.tags.append(f"{repository}:{tag}")


class FakeContainer:
    def __init__(self, engine: FakeEngine, image: str, name: str, labels: dict[str, str]) -> None:
        self.engine, self.name, self.labels = engine, name, labels
        self.image = FakeImage(image, [image], [])
        health = engine.health if "app" in name else "healthy"
        state: dict[str, Any] = {"Status": "exited" if health == "unhealthy" else "running"}
        if health is not None:
            state["Health"] = {"Status": health}
        self.attrs = {
            "State": state,
            "NetworkSettings": {"Ports": {"8000/tcp": [{"HostPort": str(engine.app_port)}]}},
        }

    def reload(self) -> None:
        pass

    def logs(self, tail: int) -> bytes:
        return b"Traceback: settings invalid"

    def remove(self, force: bool) -> None:
        self.engine.containers.items.remove(self)


class FakeContainers:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.items: list[FakeContainer] = []
        self.runs: list[dict[str, Any]] = []
        self.users: list[Any] = []  # containers that use the image under test

    def list(self, all: bool, filters: dict[str, str]) -> list[Any]:
        if "ancestor" in filters:
            return self.users
        key, _, value = filters["label"].partition("=")
        return [c for c in self.items if c.labels.get(key) == value]

    def run(self, image: str, *, name: str, labels: dict[str, str], **kw: Any) -> FakeContainer:
        self.runs.append({"image": image, "name": name, **kw})
        container = FakeContainer(self.engine, image, name, labels)
        self.items.append(container)
        return container


class FakeNetwork:
    def __init__(self, engine: FakeEngine, name: str) -> None:
        self.engine, self.name = engine, name

    def remove(self) -> None:
        self.engine.networks.items.remove(self)


class FakeNetworks:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.items: list[FakeNetwork] = []

    def create(self, name: str, driver: str, labels: dict[str, str]) -> FakeNetwork:
        network = FakeNetwork(self.engine, name)
        self.items.append(network)
        return network


class FakeImages:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def get(self, name: str) -> FakeImage:
        for image in self.engine.local:
            if name in (image.id, *image.tags, *image.attrs["RepoDigests"]):
                return image
        raise docker.errors.ImageNotFound(name)

    def remove(self, name: str, noprune: bool) -> None:
        image = self.get(name)
        image.tags = [t for t in image.tags if t != name]
        image.attrs["RepoDigests"] = [d for d in image.attrs["RepoDigests"] if d != name]
        if not image.tags and not image.attrs["RepoDigests"]:
            self.engine.local.remove(image)
        self.engine.removed.append(name)


class FakeApi:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.pulls: list[str] = []
        self.events: list[dict[str, Any]] = [{"status": "Pull complete", "id": "cccccccccccc"}]
        self.pulled_id = IMAGE_ID

    def pull(self, repository: str, tag: str, stream: bool, decode: bool) -> Iterator[Any]:
        self.pulls.append(f"{repository}@{tag}")
        yield from self.events
        if not any("error" in event for event in self.events):
            self.engine.local.append(FakeImage(self.pulled_id, [], [f"{repository}@{tag}"]))


class FakeEngine:
    def __init__(self) -> None:
        self.local = [
            FakeImage(IMAGE_ID, ["gemini-service:1.2.0", "gemini-service:sha-abc1234"], []),
            FakeImage("sha256:" + "f" * 64, [FAKE], []),
        ]
        self.removed: list[str] = []
        self.health: str | None = "healthy"
        self.app_port = 0
        self.images = FakeImages(self)
        self.containers = FakeContainers(self)
        self.networks = FakeNetworks(self)
        self.api = FakeApi(self)


@pytest.fixture
def app_answer() -> Iterator[dict[str, Any]]:
    """Stands in for the container's published port: answers /generate like the app."""
    answer: dict[str, Any] = {"status": 200, "body": {"text": "Hello, pipeline."}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            answer["request"] = json.loads(self.rfile.read(length))
            raw = json.dumps(answer["body"]).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    answer["port"] = server.server_address[1]
    yield answer
    server.shutdown()
    server.server_close()


@pytest.fixture
def engine(app_answer: dict[str, Any]) -> FakeEngine:
    engine = FakeEngine()
    engine.app_port = app_answer["port"]
    return engine


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


SBOM = sbom_release.SbomCheck("sha256:" + "5" * 64, "tag sha256-ddd", "build/sbom/x.cdx.json")


@pytest.fixture(autouse=True)
def sbom_checks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The SBOM check's own behaviour is tested in test_sbom_release.py; here, when it runs."""
    calls: list[dict[str, Any]] = []

    def check(registry: Any, ref: ImageReference, image_id: str, *, root: Any) -> Any:
        calls.append({"ref": str(ref), "image_id": image_id, "root": root})
        if isinstance(registry, FakeRegistry) and registry.sbom_missing:
            raise ReleaseError(f"{ref} has no SBOM attached")
        return SBOM

    monkeypatch.setattr(sbom_release, "check", check)
    return calls


def run(engine: FakeEngine, registry: FakeRegistry, ref: str = f"{REPO}:1.2.0") -> Any:
    return verify.verify(
        engine,
        registry,  # type: ignore[arg-type]
        ImageReference.parse(ref),
        fake_image=FAKE,
        timeout=1,
    )


def assert_clean(engine: FakeEngine) -> None:
    assert engine.containers.items == []
    assert engine.networks.items == []


def test_verify_pins_the_tag_removes_pulls_runs_and_asks(
    engine: FakeEngine, registry: FakeRegistry, app_answer: dict[str, Any]
) -> None:
    report = run(engine, registry)

    assert report.ref == f"{REPO}@{DIGEST}"
    assert engine.api.pulls == [f"{REPO}@{DIGEST}"]  # by digest, never by tag
    assert "gemini-service:1.2.0" in engine.removed  # gone before the pull
    assert report.removed_tags == ["gemini-service:1.2.0", "gemini-service:sha-abc1234"]
    restored = engine.images.get(IMAGE_ID)
    assert set(restored.tags) == {"gemini-service:1.2.0", "gemini-service:sha-abc1234"}
    assert (report.layers_downloaded, report.layers_total) == (1, 1)
    assert report.health == "healthy"
    assert report.generated_text == "Hello, pipeline."
    assert app_answer["request"] == {"prompt": "Say hello to the release pipeline."}
    fake_run, app_run = engine.containers.runs
    assert fake_run["image"] == FAKE
    assert app_run["image"] == f"{REPO}@{DIGEST}"
    assert app_run["environment"]["GEMINI_API_ENDPOINT"] == f"http://{fake_run['name']}:8001"
    assert app_run["ports"] == {"8000/tcp": ("127.0.0.1", None)}
    assert app_run["network"] == fake_run["network"]
    assert_clean(engine)
    assert report.run_id.startswith("gs-verify-")
    assert fake_run["network"] == report.run_id
    assert "verified" in verify.summary_line(report)
    assert report.sbom == SBOM
    assert f"SBOM {SBOM.digest} (found through the tag sha256-ddd) matches build/sbom" in (
        verify.summary_line(report)
    )


def test_a_digest_without_its_sbom_fails_before_anything_local_is_removed(
    engine: FakeEngine, registry: FakeRegistry, sbom_checks: list[dict[str, Any]]
) -> None:
    registry.sbom_missing = True
    with pytest.raises(ReleaseError, match="has no SBOM attached"):
        run(engine, registry)
    assert engine.removed == []
    assert engine.api.pulls == []
    assert sbom_checks == [{"ref": f"{REPO}@{DIGEST}", "image_id": IMAGE_ID, "root": None}]


def test_a_digest_reference_is_used_as_given(engine: FakeEngine, registry: FakeRegistry) -> None:
    registry.tags.clear()
    report = run(engine, registry, f"{REPO}@{DIGEST}")
    assert report.ref == f"{REPO}@{DIGEST}"


def test_missing_tag_is_reported(engine: FakeEngine, registry: FakeRegistry) -> None:
    with pytest.raises(ReleaseError, match="does not exist in the registry"):
        run(engine, registry, f"{REPO}:9.9.9")


@pytest.mark.parametrize(
    ("error", "message"),
    [(RegistryAuthError("refused"), "log in"), (RegistryError("cannot reach"), "cannot reach")],
)
def test_registry_problems_are_reported(
    engine: FakeEngine, registry: FakeRegistry, error: Exception, message: str
) -> None:
    registry.fail = error
    with pytest.raises(ReleaseError, match=message):
        run(engine, registry)


def test_a_missing_blob_fails_before_anything_local_is_removed(
    engine: FakeEngine, registry: FakeRegistry
) -> None:
    del registry.blobs[LAYER.digest]

    with pytest.raises(ReleaseError, match=f"lacks blob {LAYER.digest}"):
        run(engine, registry)
    assert engine.removed == []


def test_without_a_local_fake_image_the_fake_runs_from_the_pulled_image(
    engine: FakeEngine, registry: FakeRegistry
) -> None:
    engine.local.pop()

    report = run(engine, registry)

    fake_run, app_run = engine.containers.runs
    assert fake_run["image"] == app_run["image"] == f"{REPO}@{DIGEST}"
    assert fake_run["entrypoint"] == ["python", "-m", "gemini_service.fake"]
    assert app_run["entrypoint"] is None
    assert "ran the fake from the pulled image" in report.notes[0]


def test_failed_pull_says_the_local_copies_are_gone_and_how_to_get_them_back(
    engine: FakeEngine, registry: FakeRegistry
) -> None:
    engine.api.events = [{"error": "manifest unknown"}]
    with pytest.raises(ReleaseError, match=r"(?s)manifest unknown.*`invoke build` makes them"):
        run(engine, registry)


def test_pulled_image_must_be_the_one_the_manifest_names(
    engine: FakeEngine, registry: FakeRegistry
) -> None:
    engine.api.pulled_id = "sha256:" + "9" * 64
    with pytest.raises(ReleaseError, match="but the manifest names"):
        run(engine, registry)


def test_image_in_use_is_noted_not_fatal(engine: FakeEngine, registry: FakeRegistry) -> None:
    engine.containers.users = [type("C", (), {"name": "gemini-service-app-1"})()]
    report = run(engine, registry)
    assert "gemini-service-app-1" in report.notes[0]


def test_unhealthy_container_fails_with_its_log_and_is_cleaned_up(
    engine: FakeEngine, registry: FakeRegistry
) -> None:
    engine.health = "unhealthy"
    with pytest.raises(ReleaseError, match=r"(?s)did not become healthy.*settings invalid"):
        run(engine, registry)
    assert_clean(engine)


def test_an_image_without_healthcheck_fails(engine: FakeEngine, registry: FakeRegistry) -> None:
    engine.health = None
    with pytest.raises(ReleaseError, match="no HEALTHCHECK"):
        run(engine, registry)
    assert_clean(engine)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [(502, {"error": {}}, "502"), (200, {"text": ""}, "without text")],
)
def test_a_bad_generate_answer_fails_and_is_cleaned_up(
    engine: FakeEngine,
    registry: FakeRegistry,
    app_answer: dict[str, Any],
    status: int,
    body: Any,
    message: str,
) -> None:
    app_answer.update(status=status, body=body)
    with pytest.raises(ReleaseError, match=message):
        run(engine, registry)
    assert_clean(engine)


def test_verify_release_defaults_to_the_recorded_push(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "release.json"
    ReleaseRecord(REPO, DIGEST, ["1.2.0"], "1.2.0", "a" * 40, "2026-11-22T10:00:00+00:00").write(
        record
    )
    monkeypatch.setattr(verify, "RegistryClient", lambda host, credentials: FakeRegistry())

    report = verify.verify_release(
        "", record_path=record, fake_image=FAKE, timeout=1, engine=engine, root=tmp_path
    )

    assert report.ref == f"{REPO}@{DIGEST}"
    assert report.sbom == SBOM


def test_verify_from_config_compares_with_this_checkout(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, sbom_checks: list[Any]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.0"\n')
    ReleaseRecord(REPO, DIGEST, ["1.2.0"], "1.2.0", "a" * 40, "2026-11-22T10:00:00+00:00").write(
        tmp_path / "build" / "release.json"
    )
    monkeypatch.setattr(verify, "RegistryClient", lambda host, credentials: FakeRegistry())
    monkeypatch.setattr(verify.docker_engine, "connect", lambda: engine)
    config = {
        "release": {"record": "build/release.json", "verify_timeout": 1},
        "image": {"name": "gemini-service"},
    }
    verify.verify_from_config(config, root=tmp_path)
    assert [call["root"] for call in sbom_checks] == [tmp_path]
