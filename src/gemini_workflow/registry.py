"""A small client for the registry HTTP API v2: what a tag points to, which tags and blobs exist.

The docker CLI answers none of these without pulling; the registry answers each with one
request, which is what the immutability check, `verify` and the smoke tests need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# Without an Accept header a registry may answer with (or convert to) the old schema 1,
# whose digest is not the one docker records; ask for every current type explicitly.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
_INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
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

    def _request(
        self, method: str, name: str, path: str, *, accept: str | None = None
    ) -> requests.Response:
        url = f"{self.base}/{name}/{path}"
        headers = {"Accept": accept} if accept else {}
        response = self._send(method, url, headers, name)
        if response.status_code == 401:
            challenge = response.headers.get("Www-Authenticate", "")
            self._authenticate(challenge, name)
            response = self._send(method, url, headers, name)
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

    def _send(self, method: str, url: str, headers: dict[str, str], name: str) -> requests.Response:
        headers = dict(headers)
        auth: tuple[str, str] | None = None
        if token := self._tokens.get(name):
            headers["Authorization"] = f"Bearer {token}"
        elif self._basic:
            auth = self.credentials
        try:
            return self._session.request(
                method, url, headers=headers, auth=auth, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise RegistryError(
                f"cannot reach the registry at {self.host} ({_reason(error)})"
            ) from None

    def _authenticate(self, challenge: str, name: str) -> None:
        """Answer a Basic or Bearer challenge (the token flow every hosted registry uses)."""
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self._basic = self.credentials is not None
            return
        if scheme.lower() != "bearer":
            return
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in fields:
            return
        query = {"scope": f"repository:{name}:pull"}
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
    try:
        body = response.json()
    except ValueError:
        raise RegistryError(f"{response.url} answered with something other than JSON") from None
    if not isinstance(body, dict):
        raise RegistryError(f"{response.url} answered with unexpected JSON")
    return body


def _amd64_entry(index: dict[str, Any]) -> str:
    for entry in index.get("manifests", []):
        platform = entry.get("platform", {})
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(entry["digest"])
    raise RegistryError("the image index has no linux/amd64 manifest")
