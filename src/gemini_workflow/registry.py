"""A small client for the registry HTTP API v2: what a tag points to, which tags and blobs exist.

The docker CLI answers none of these without pulling; the registry answers each with one
request, which is what the immutability check, `verify` and the smoke tests need. It also
writes the little an OCI artifact needs (a blob, a manifest) and reads the OCI 1.1 referrers
API, so an SBOM can be attached to an image digest without another tool.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# Without an Accept header a registry may answer with (or convert to) the old schema 1,
# whose digest is not the one docker records; ask for every current type explicitly.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
_INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_LOOPBACK = re.compile(r"^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$")


class RegistryError(Exception):
    """The registry could not be reached or answered something unexpected."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (or we had none)."""


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int


@dataclass(frozen=True)
class Descriptor:
    """What OCI calls a descriptor: enough to point at a manifest or blob from another one."""

    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class RawManifest:
    """A manifest's exact bytes (its digest is theirs) and the type the registry stored."""

    body: bytes
    media_type: str
    digest: str

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.body))

    def json(self) -> dict[str, Any]:
        return _parse(self.body, self.digest)


@dataclass(frozen=True)
class Manifest:
    """An image manifest; for a multi-platform index, the linux/amd64 entry's manifest."""

    digest: str  # what the tag points to (the index's digest for an index)
    config: Blob
    layers: tuple[Blob, ...]


def scheme_for(host: str) -> str:
    """Docker talks plain HTTP to loopback registries and HTTPS to everything else."""
    return "http" if _LOOPBACK.match(host) else "https"


def docker_credentials(host: str) -> tuple[str, str] | None:
    """The username/secret docker itself would use for `host` (config file or helper)."""
    from docker.auth import load_config

    try:
        auth = load_config().resolve_authconfig(host) or {}
    except Exception:  # a broken credential helper must not hide the registry's own answer
        return None
    user, secret = (
        auth.get("Username") or auth.get("username"),
        auth.get("Password") or auth.get("password"),
    )
    return (user, secret) if user and secret else None


class RegistryClient:
    """Anonymous, basic or bearer-token access to one registry host."""

    def __init__(
        self, host: str, *, credentials: tuple[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self.host = host
        self.base = f"{scheme_for(host)}://{host}/v2"
        self.credentials = credentials
        self.timeout = timeout
        self._session = requests.Session()
        self._tokens: dict[str, str] = {}  # bearer token per repository
        self._basic = False  # the registry asked for basic auth

    def ping(self) -> bool:
        """True when a v2 registry answers (200, or 401 asking for credentials)."""
        try:
            response = self._session.get(f"{self.base}/", timeout=2)
        except requests.RequestException:
            return False
        return response.status_code in {200, 401} and "Docker-Distribution-Api-Version" in (
            response.headers
        )

    def manifest_digest(self, name: str, reference: str) -> str | None:
        """Docker-Content-Digest of a tag or digest, or None when the registry has no such tag."""
        response = self._request("HEAD", name, f"manifests/{reference}", accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            raise RegistryError(f"{self.host} sent no Docker-Content-Digest for {name}:{reference}")
        return digest

    def manifest(self, name: str, reference: str) -> Manifest | None:
        """The manifest a tag points to, None when absent; an index resolves to linux/amd64."""
        response = self._request("GET", name, f"manifests/{reference}", accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest", "")
        body = _json(response)
        if body.get("mediaType", response.headers.get("Content-Type")) in _INDEX_TYPES:
            entry = _amd64_entry(body)
            inner = self.manifest(name, entry)
            if inner is None:
                raise RegistryError(f"{name}@{digest} lists {entry}, which the registry lacks")
            return Manifest(digest, inner.config, inner.layers)
        try:
            config = Blob(body["config"]["digest"], int(body["config"]["size"]))
            layers = tuple(Blob(item["digest"], int(item["size"])) for item in body["layers"])
        except (KeyError, TypeError, ValueError) as error:
            raise RegistryError(f"unexpected manifest for {name}:{reference}: {error}") from None
        return Manifest(digest, config, layers)

    def image_labels(self, name: str, config_digest: str) -> dict[str, str]:
        """The labels in an image config blob (where the image's version is written)."""
        response = self._request("GET", name, f"blobs/{config_digest}")
        if response.status_code == 404:
            return {}
        labels = (_json(response).get("config") or {}).get("Labels") or {}
        return {str(key): str(value) for key, value in labels.items()}

    def tags(self, name: str) -> list[str]:
        """Every tag of a repository (empty when the repository does not exist yet)."""
        response = self._request("GET", name, "tags/list")
        if response.status_code == 404:
            return []
        return sorted(_json(response).get("tags") or [])

    def blob_size(self, name: str, digest: str) -> int | None:
        """Size of a blob in the repository, None when the registry does not have it."""
        response = self._request("HEAD", name, f"blobs/{digest}")
        if response.status_code == 404:
            return None
        return int(response.headers.get("Content-Length", "-1"))

    def descriptor(self, name: str, reference: str) -> Descriptor | None:
        """Type, digest and size of a manifest (HEAD), e.g. the `subject` of an artifact."""
        response = self._request("HEAD", name, f"manifests/{reference}", accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest", "")
        size = int(response.headers.get("Content-Length", "-1"))
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        if not digest or size < 0 or not media_type:
            raise RegistryError(f"{self.host} described {name}:{reference} incompletely")
        return Descriptor(media_type, digest, size)

    def raw_manifest(
        self, name: str, reference: str, *, accept: str = MANIFEST_ACCEPT
    ) -> RawManifest | None:
        """A manifest or index exactly as stored, checked against its digest."""
        response = self._request("GET", name, f"manifests/{reference}", accept=accept)
        if response.status_code == 404:
            return None
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        digest = response.headers.get("Docker-Content-Digest") or content_digest(response.content)
        _check_digest(response.content, digest, f"{name}:{reference}")
        return RawManifest(response.content, media_type, digest)

    def blob(self, name: str, digest: str) -> bytes | None:
        """A blob's content, checked against its digest; None when the registry lacks it."""
        response = self._request("GET", name, f"blobs/{digest}")
        if response.status_code == 404:
            return None
        _check_digest(response.content, digest, f"{name}@{digest}")
        return response.content

    def upload_blob(self, name: str, data: bytes) -> Blob:
        """Upload a blob unless the repository has it (monolithic POST + PUT upload)."""
        blob = Blob(content_digest(data), len(data))
        if self.blob_size(name, blob.digest) == blob.size:
            return blob
        started = self._request("POST", name, "blobs/uploads/")
        location = started.headers.get("Location")
        if started.status_code != 202 or not location:
            raise RegistryError(f"{self.host} did not start an upload to {name}")
        upload = urljoin(f"{self.base}/{name}/", location)
        joiner = "&" if "?" in upload else "?"
        self._request(
            "PUT",
            name,
            "blobs/uploads/",
            url=f"{upload}{joiner}digest={blob.digest}",
            body=data,
            content_type="application/octet-stream",
        )
        return blob

    def put_manifest(
        self, name: str, reference: str, body: bytes, media_type: str
    ) -> tuple[str, str | None]:
        """Store a manifest under a tag or its digest; returns its digest and `OCI-Subject`.

        A registry with the OCI 1.1 referrers API answers a manifest that has a `subject` with
        an `OCI-Subject` header; without it the client must keep the referrers tag itself.
        """
        response = self._request(
            "PUT", name, f"manifests/{reference}", body=body, content_type=media_type
        )
        digest = response.headers.get("Docker-Content-Digest") or content_digest(body)
        return digest, response.headers.get("OCI-Subject")

    def referrers(self, name: str, digest: str) -> list[dict[str, Any]] | None:
        """The OCI 1.1 referrers of a digest; None when the registry lacks the API (404)."""
        response = self._request("GET", name, f"referrers/{digest}", accept=OCI_INDEX)
        if response.status_code == 404:
            return None
        manifests = _json(response).get("manifests") or []
        return [dict(entry) for entry in manifests if isinstance(entry, dict)]

    def _request(
        self,
        method: str,
        name: str,
        path: str,
        *,
        accept: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        url: str | None = None,
    ) -> requests.Response:
        url = url or f"{self.base}/{name}/{path}"
        headers = {"Accept": accept} if accept else {}
        if content_type:
            headers["Content-Type"] = content_type
        response = self._send(method, url, headers, name, body)
        if response.status_code == 401:
            challenge = response.headers.get("Www-Authenticate", "")
            self._authenticate(challenge, name, write=method in _WRITES)
            response = self._send(method, url, headers, name, body)
        if response.status_code in {401, 403}:
            who = f"as {self.credentials[0]}" if self.credentials else "without credentials"
            raise RegistryAuthError(
                f"{self.host} refused {method} {name}/{path} {who} (HTTP {response.status_code})"
            )
        if response.status_code >= 400 and response.status_code != 404:
            raise RegistryError(
                f"{self.host} answered HTTP {response.status_code} to {method} {name}/{path}: "
                f"{response.text[:200]}"
            )
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str], name: str, body: bytes | None = None
    ) -> requests.Response:
        headers = dict(headers)
        auth: tuple[str, str] | None = None
        if token := self._tokens.get(name):
            headers["Authorization"] = f"Bearer {token}"
        elif self._basic:
            auth = self.credentials
        try:
            return self._session.request(
                method, url, headers=headers, auth=auth, data=body, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise RegistryError(
                f"cannot reach the registry at {self.host} ({_reason(error)})"
            ) from None

    def _authenticate(self, challenge: str, name: str, *, write: bool = False) -> None:
        """Answer a Basic or Bearer challenge (the token flow every hosted registry uses).

        The token asks for the scope the challenge names, else pull (and push for writes).
        """
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self._basic = self.credentials is not None
            return
        if scheme.lower() != "bearer":
            return
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in fields:
            return
        actions = "pull,push" if write else "pull"
        query = {"scope": fields.get("scope") or f"repository:{name}:{actions}"}
        if "service" in fields:
            query["service"] = fields["service"]
        try:
            response = self._session.get(
                fields["realm"], params=query, auth=self.credentials, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise RegistryError(
                f"cannot reach the token service of {self.host} ({_reason(error)})"
            ) from None
        if response.status_code in {401, 403}:
            raise RegistryAuthError(f"{self.host} refused a token for {name}")
        body = _json(response)
        token = body.get("token") or body.get("access_token")
        if isinstance(token, str):
            self._tokens[name] = token


def _reason(error: requests.RequestException) -> str:
    """The useful end of urllib3's nested message: "[Errno 111] Connection refused"."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    match = re.search(r"\[Errno -?\d+\] [^\"')]+", str(error))
    return match[0] if match else type(error).__name__


def _json(response: requests.Response) -> dict[str, Any]:
    return _parse(response.content, response.url)


def _parse(content: bytes, where: str) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        raise RegistryError(f"{where} answered with something other than JSON") from None
    if not isinstance(body, dict):
        raise RegistryError(f"{where} answered with unexpected JSON")
    return body


def content_digest(data: bytes) -> str:
    """The sha256 digest that names content in a registry."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _check_digest(data: bytes, digest: str, what: str) -> None:
    """Content addressing is the point: bytes that do not hash to their digest are refused."""
    if digest.startswith("sha256:") and content_digest(data) != digest:
        raise RegistryError(f"{what}: the registry sent content that does not match {digest}")


def _amd64_entry(index: dict[str, Any]) -> str:
    for entry in index.get("manifests", []):
        platform = entry.get("platform", {})
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(entry["digest"])
    raise RegistryError("the image index has no linux/amd64 manifest")
