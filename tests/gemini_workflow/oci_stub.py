"""A small in-memory registry speaking the HTTP API v2 over a real socket, for unit tests.

It stores blobs and manifests by digest and tags by name, takes monolithic uploads
(POST, then PUT with ?digest=), and either lacks the OCI 1.1 referrers API (404, like Debian's
docker-registry 2.8) or has it (indexes `subject` and answers `OCI-Subject`, like an OCI 1.1
registry). Tests drive gemini_workflow.registry.RegistryClient against it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class OciStub:
    """The registry's state; `referrers_api` chooses which kind of registry it is."""

    referrers_api: bool = False
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # digest -> body, type
    tags: dict[str, str] = field(default_factory=dict)  # "name:tag" -> digest
    uploads: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    corrupt_blobs: bool = False  # serve bytes that do not match their digest
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def push_image(self, name: str, tag: str, config: dict[str, Any]) -> tuple[str, int]:
        """A Docker image manifest with this config blob; returns (digest, size)."""
        raw_config = json.dumps(config).encode()
        self.blobs[digest_of(raw_config)] = raw_config
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": digest_of(raw_config),
                "size": len(raw_config),
            },
            "layers": [],
        }
        body = json.dumps(manifest).encode()
        self.manifests[digest_of(body)] = (body, manifest["mediaType"])
        self.tags[f"{name}:{tag}"] = digest_of(body)
        return digest_of(body), len(body)

    def resolve(self, name: str, reference: str) -> str | None:
        if reference.startswith("sha256:"):
            return reference if reference in self.manifests else None
        return self.tags.get(f"{name}:{reference}")

    def referrers_of(self, digest: str) -> list[dict[str, Any]]:
        found = []
        for manifest_digest, (body, media_type) in sorted(self.manifests.items()):
            manifest = json.loads(body)
            if (manifest.get("subject") or {}).get("digest") == digest:
                found.append(
                    {
                        "mediaType": media_type,
                        "digest": manifest_digest,
                        "size": len(body),
                        "artifactType": manifest.get("artifactType"),
                    }
                )
        return found


def handler_for(stub: OciStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.route(head=True)

        def do_GET(self) -> None:
            self.route(head=False)

        def do_POST(self) -> None:
            self.route(head=False)

        def do_PUT(self) -> None:
            self.route(head=False)

        def route(self, *, head: bool) -> None:
            url = urlsplit(self.path)
            stub.requests.append((self.command, url.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if url.path == "/v2/":
                return self.send(200, b"{}")
            match = re.fullmatch(r"/v2/(.+)/(manifests|blobs|referrers|tags)/(.*)", url.path)
            if match is None:
                match = re.fullmatch(r"/v2/(.+)/(blobs)/(uploads/.*)", url.path)
            if match is None:
                return self.send(404, b"404 page not found\n", "text/plain")
            name, kind, rest = match.groups()
            if kind == "manifests":
                return self.manifest(name, rest, body, head=head)
            if kind == "referrers":
                return self.referrers(rest)
            if kind == "tags":
                tags = sorted(k.split(":", 1)[1] for k in stub.tags if k.startswith(f"{name}:"))
                return self.send(200, json.dumps({"name": name, "tags": tags}).encode())
            return self.blob(rest, body, parse_qs(url.query), head=head)

        def manifest(self, name: str, reference: str, body: bytes, *, head: bool) -> None:
            if self.command == "PUT":
                digest = digest_of(body)
                stub.manifests[digest] = (body, self.headers.get("Content-Type", ""))
                if not reference.startswith("sha256:"):
                    stub.tags[f"{name}:{reference}"] = digest
                headers = {"Docker-Content-Digest": digest, "Location": f"/v2/{name}/x"}
                if stub.referrers_api and json.loads(body).get("subject"):
                    headers["OCI-Subject"] = json.loads(body)["subject"]["digest"]
                return self.send(201, b"", headers=headers)
            digest = stub.resolve(name, reference)
            if digest is None:
                return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            content, media_type = stub.manifests[digest]
            self.send(200, content, media_type, {"Docker-Content-Digest": digest}, head=head)

        def referrers(self, digest: str) -> None:
            if not stub.referrers_api:
                return self.send(404, b"404 page not found\n", "text/plain")
            index = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": stub.referrers_of(digest),
            }
            self.send(200, json.dumps(index).encode(), index["mediaType"])

        def blob(self, rest: str, body: bytes, query: dict[str, list[str]], *, head: bool) -> None:
            if self.command == "POST":
                upload = str(uuid.uuid4())
                stub.uploads.add(upload)
                location = f"/v2/x/blobs/uploads/{upload}?_state=abc"
                return self.send(202, b"", headers={"Location": location})
            if self.command == "PUT":
                digest = query["digest"][0]
                if digest_of(body) != digest:
                    return self.send(400, b'{"errors":[{"code":"DIGEST_INVALID"}]}')
                stub.blobs[digest] = body
                return self.send(201, b"", headers={"Docker-Content-Digest": digest})
            if rest not in stub.blobs:
                return self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            content = stub.blobs[rest] + (b" " if stub.corrupt_blobs else b"")
            self.send(200, content, "application/octet-stream", head=head)

        def send(
            self,
            status: int,
            content: bytes,
            media_type: str = "application/json",
            headers: dict[str, str] | None = None,
            *,
            head: bool = False,
        ) -> None:
            self.send_response(status)
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(content)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(content)

    return Handler


@contextmanager
def running(stub: OciStub) -> Iterator[OciStub]:
    """Serve the stub on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(stub))
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
