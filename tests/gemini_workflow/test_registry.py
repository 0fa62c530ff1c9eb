"""The registry API client against a stub registry speaking the v2 protocol over a socket."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gemini_workflow.registry import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    docker_credentials,
    scheme_for,
)

CONFIG = "sha256:" + "c" * 64
LAYER = "sha256:" + "1" * 64
MANIFEST_DIGEST = "sha256:" + "d" * 64
INDEX_DIGEST = "sha256:" + "e" * 64
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": DOCKER_MANIFEST,
    "config": {"digest": CONFIG, "size": 900},
    "layers": [{"digest": LAYER, "size": 1234}],
}
IMAGE_CONFIG = {"config": {"Labels": {"org.opencontainers.image.version": "1.0.0"}}}
INDEX = {
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": MANIFEST_DIGEST, "platform": {"os": "linux", "architecture": "amd64"}},
    ],
}


@dataclass
class Stub:
    """What the stub registry holds and how it authenticates."""

    auth: str = "none"  # none | basic | bearer
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, Accept
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def make_handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.answer(head=True)

        def do_GET(self) -> None:
            self.answer(head=False)

        def answer(self, *, head: bool) -> None:
            stub.seen.append((self.command, self.path, self.headers.get("Accept", "")))
            if self.path.startswith("/token"):
                ok = self.headers.get("Authorization") == basic("user", "secret")
                return self.send(200 if ok else 401, {"token": "t0k"} if ok else {}, head=head)
            if not self.authorized():
                return None
            manifest = {"Docker-Content-Digest": MANIFEST_DIGEST}
            routes: dict[str, tuple[int, Any, dict[str, str]]] = {
                "/v2/": (200, {}, {}),
                "/v2/ns/app/manifests/1.0.0": (200, MANIFEST, manifest),
                f"/v2/ns/app/manifests/{MANIFEST_DIGEST}": (200, MANIFEST, manifest),
                "/v2/ns/app/manifests/multi": (200, INDEX, {"Docker-Content-Digest": INDEX_DIGEST}),
                "/v2/ns/app/manifests/nodigest": (200, MANIFEST, {}),
                "/v2/ns/app/manifests/broken": (200, {"config": {}}, manifest),
                "/v2/ns/app/manifests/notjson": (200, None, manifest),
                "/v2/ns/app/manifests/boom": (500, {"errors": [{"code": "UNKNOWN"}]}, {}),
                "/v2/ns/app/tags/list": (200, {"name": "ns/app", "tags": ["latest", "1.0.0"]}, {}),
                f"/v2/ns/app/blobs/{LAYER}": (200, None, {"Content-Length": "1234"}),
                f"/v2/ns/app/blobs/{CONFIG}": (200, IMAGE_CONFIG, {}),
            }
            status, body, headers = routes.get(self.path, (404, {"errors": []}, {}))
            return self.send(status, body, headers, head=head)

        def authorized(self) -> bool:
            given = self.headers.get("Authorization")
            if stub.auth == "basic" and given != basic("user", "secret"):
                challenge = 'Basic realm="stub"'
            elif stub.auth == "bearer" and given != "Bearer t0k":
                challenge = f'Bearer realm="http://{stub.host}/token",service="stub"'
            else:
                return True
            body = {"errors": [{"code": "UNAUTHORIZED"}]}
            self.send(401, body, {"Www-Authenticate": challenge}, head=self.command == "HEAD")
            return False

        def send(
            self, status: int, body: Any, headers: dict[str, str] | None = None, *, head: bool
        ) -> None:
            raw = b"not json" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            content_type = body.get("mediaType", "application/json") if body else "text/plain"
            self.send_header("Content-Type", content_type)
            headers = headers or {}
            self.send_header("Content-Length", headers.pop("Content-Length", str(len(raw))))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(raw)

    return Handler


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_loopback_registries_are_plain_http_and_others_https() -> None:
    assert scheme_for("127.0.0.1:5000") == "http"
    assert scheme_for("localhost:5000") == "http"
    assert scheme_for("us-docker.pkg.dev") == "https"


def test_head_reads_the_content_digest_asking_for_current_manifest_types(stub: Stub) -> None:
    client = RegistryClient(stub.host)
    assert client.manifest_digest("ns/app", "1.0.0") == MANIFEST_DIGEST
    method, _, accept = stub.seen[-1]
    assert method == "HEAD"
    assert DOCKER_MANIFEST in accept
    assert OCI_INDEX in accept


def test_missing_tag_is_none_not_an_error(stub: Stub) -> None:
    client = RegistryClient(stub.host)
    assert client.manifest_digest("ns/app", "9.9.9") is None
    assert client.manifest("ns/app", "9.9.9") is None
    assert client.blob_size("ns/app", "sha256:" + "0" * 64) is None


def test_manifest_names_config_and_layers(stub: Stub) -> None:
    manifest = RegistryClient(stub.host).manifest("ns/app", "1.0.0")
    assert manifest is not None
    assert manifest.digest == MANIFEST_DIGEST
    assert manifest.config.digest == CONFIG
    assert [(layer.digest, layer.size) for layer in manifest.layers] == [(LAYER, 1234)]


def test_index_resolves_to_the_amd64_image_but_keeps_its_own_digest(stub: Stub) -> None:
    manifest = RegistryClient(stub.host).manifest("ns/app", "multi")
    assert manifest is not None
    assert manifest.digest == INDEX_DIGEST
    assert manifest.config.digest == CONFIG


def test_image_labels_come_from_the_config_blob(stub: Stub) -> None:
    client = RegistryClient(stub.host)
    assert client.image_labels("ns/app", CONFIG) == {"org.opencontainers.image.version": "1.0.0"}
    assert client.image_labels("ns/app", "sha256:" + "0" * 64) == {}


def test_tags_list_and_blob_size(stub: Stub) -> None:
    client = RegistryClient(stub.host)
    assert client.tags("ns/app") == ["1.0.0", "latest"]
    assert client.tags("ns/none") == []
    assert client.blob_size("ns/app", LAYER) == 1234


def test_ping_tells_a_registry_from_nothing(stub: Stub) -> None:
    assert RegistryClient(stub.host).ping()
    assert not RegistryClient("127.0.0.1:1").ping()


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("broken", "unexpected manifest"),
        ("notjson", "other than JSON"),
        ("boom", "HTTP 500"),
    ],
)
def test_unexpected_manifests_become_registry_errors(
    stub: Stub, reference: str, error: str
) -> None:
    with pytest.raises(RegistryError, match=error):
        RegistryClient(stub.host).manifest("ns/app", reference)


def test_a_head_without_digest_is_a_registry_error(stub: Stub) -> None:
    with pytest.raises(RegistryError, match="no Docker-Content-Digest"):
        RegistryClient(stub.host).manifest_digest("ns/app", "nodigest")


def test_unreachable_registry_is_one_clear_error() -> None:
    with pytest.raises(RegistryError, match=r"cannot reach the registry at 127\.0\.0\.1:1"):
        RegistryClient("127.0.0.1:1", timeout=1).tags("ns/app")


def test_basic_auth_challenge_is_answered_with_credentials(stub: Stub) -> None:
    stub.auth = "basic"
    client = RegistryClient(stub.host, credentials=("user", "secret"))
    assert client.manifest_digest("ns/app", "1.0.0") == MANIFEST_DIGEST


def test_bearer_challenge_fetches_a_token_for_the_repository(stub: Stub) -> None:
    stub.auth = "bearer"
    client = RegistryClient(stub.host, credentials=("user", "secret"))
    assert client.tags("ns/app") == ["1.0.0", "latest"]
    token_request = next(path for _, path, _ in stub.seen if path.startswith("/token"))
    assert "scope=repository%3Ans%2Fapp%3Apull" in token_request
    assert "service=stub" in token_request


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_refused_credentials_are_an_auth_error(stub: Stub, auth: str) -> None:
    stub.auth = auth
    client = RegistryClient(stub.host, credentials=("user", "wrong"))
    with pytest.raises(RegistryAuthError, match="refused"):
        client.tags("ns/app")


def test_no_credentials_at_all_is_an_auth_error_saying_so(stub: Stub) -> None:
    stub.auth = "basic"
    with pytest.raises(RegistryAuthError, match="without credentials"):
        RegistryClient(stub.host).tags("ns/app")


def test_docker_credentials_come_from_the_docker_config(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = base64.b64encode(b"robot:hunter2").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"registry.example.com": {"auth": auth}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_credentials("registry.example.com") == ("robot", "hunter2")
    assert docker_credentials("other.example.com") is None


def test_writes_ask_for_a_push_token_and_a_challenge_scope_wins(stub: Stub) -> None:
    client = RegistryClient(stub.host, credentials=("user", "secret"))
    realm = f'Bearer realm="http://{stub.host}/token",service="stub"'
    client._authenticate(realm, "ns/app", write=True)
    client._authenticate(f'{realm},scope="repository:ns/app:pull,push,delete"', "ns/app")
    scopes = [path.partition("scope=")[2].split("&")[0] for _, path, _ in stub.seen]
    assert scopes == [
        "repository%3Ans%2Fapp%3Apull%2Cpush",
        "repository%3Ans%2Fapp%3Apull%2Cpush%2Cdelete",
    ]
