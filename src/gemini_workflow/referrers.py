"""OCI artifacts attached to an image digest, found the way standard tools look for them.

An artifact (here an SBOM) is an OCI image manifest whose `subject` is the image's manifest
descriptor, whose `artifactType` says what it is, whose config is the empty descriptor and
whose one layer is the content. OCI 1.1 registries index such manifests themselves and list
them at `GET /v2/<name>/referrers/<digest>`; older ones (Debian's docker-registry 2.8 answers
404 there) need the referrers tag scheme of the distribution spec: the client keeps an OCI
image index of referrer descriptors under the tag `sha256-<hex>`, merging with what is there.
oras, cosign, trivy and docker buildx read either.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gemini_workflow.registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Descriptor,
    RegistryClient,
    RegistryError,
    content_digest,
)

EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONTENT = b"{}"
REFERRERS_API = "referrers API"


@dataclass(frozen=True)
class Attached:
    """Where an artifact went: its manifest digest, its content blob, how it is found."""

    manifest: Descriptor
    content: Blob
    found_through: str  # "referrers API" or "tag sha256-<hex>"
    seconds: float


def referrers_tag(digest: str) -> str:
    """The fallback tag of a subject digest: `sha256:abc...` -> `sha256-abc...`."""
    algorithm, _, hexadecimal = digest.partition(":")
    if not hexadecimal:
        raise ValueError(f"{digest!r} is not a digest")
    return f"{algorithm}-{hexadecimal}"


def is_referrers_tag(tag: str) -> bool:
    """Whether a tag is a referrers index, not a release tag (tag listings skip them)."""
    algorithm, _, hexadecimal = tag.partition("-")
    return algorithm == "sha256" and len(hexadecimal) == 64


def artifact_manifest(
    subject: Descriptor,
    content: Blob,
    *,
    artifact_type: str,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """The OCI image manifest of an artifact, serialised once (its bytes define its digest)."""
    empty = {**_descriptor(EMPTY_MEDIA_TYPE, empty_blob()), "data": _base64(EMPTY_CONTENT)}
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": empty,
        "layers": [_descriptor(artifact_type, content)],
        "subject": subject.as_json(),
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()


def merged_index(existing: Mapping[str, Any] | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The referrers index with `entry` added once; other referrers (signatures...) are kept."""
    manifests = [dict(m) for m in (existing or {}).get("manifests") or [] if isinstance(m, dict)]
    if not any(m.get("digest") == entry["digest"] for m in manifests):
        manifests.append(dict(entry))
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}


def referrer_entry(
    manifest: Descriptor, artifact_type: str, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """How an index lists an artifact: its descriptor plus artifactType and annotations."""
    entry = {**manifest.as_json(), "artifactType": artifact_type}
    if annotations:
        entry["annotations"] = dict(annotations)
    return entry


def attach(
    registry: RegistryClient,
    name: str,
    subject_digest: str,
    content: bytes,
    *,
    artifact_type: str,
    annotations: Mapping[str, str] | None = None,
) -> Attached:
    """Upload `content` as an artifact referring to `subject_digest`, findable either way."""
    started = time.monotonic()
    subject = registry.descriptor(name, subject_digest)
    if subject is None:
        raise RegistryError(f"{name}@{subject_digest} is not in the registry: push it first")
    blob = registry.upload_blob(name, content)
    registry.upload_blob(name, EMPTY_CONTENT)
    body = artifact_manifest(subject, blob, artifact_type=artifact_type, annotations=annotations)
    digest, indexed = registry.put_manifest(name, content_digest(body), body, OCI_MANIFEST)
    manifest = Descriptor(OCI_MANIFEST, digest, len(body))
    found_through = REFERRERS_API
    if indexed is None:  # no OCI-Subject header: keep the referrers tag ourselves
        tag = referrers_tag(subject_digest)
        current = registry.raw_manifest(name, tag, accept=OCI_INDEX)
        index = merged_index(
            current.json() if current else None,
            referrer_entry(manifest, artifact_type, annotations),
        )
        if current is None or index != current.json():
            registry.put_manifest(name, tag, json.dumps(index).encode(), OCI_INDEX)
        found_through = f"tag {tag}"
    return Attached(manifest, blob, found_through, time.monotonic() - started)


def find(
    registry: RegistryClient, name: str, subject_digest: str, *, artifact_type: str
) -> tuple[list[dict[str, Any]], str]:
    """Referrers of a digest with this artifact type, and how they were found.

    The referrers API when the registry has it, else the referrers tag: what oras and the
    distribution spec do.
    """
    listed = registry.referrers(name, subject_digest)
    found_through = REFERRERS_API
    if listed is None:
        tag = referrers_tag(subject_digest)
        index = registry.raw_manifest(name, tag, accept=OCI_INDEX)
        listed = list((index.json().get("manifests") or []) if index else [])
        found_through = f"tag {tag}"
    return [m for m in listed if m.get("artifactType") == artifact_type], found_through


def fetch(
    registry: RegistryClient, name: str, subject_digest: str, entry: Mapping[str, Any]
) -> tuple[Descriptor, bytes]:
    """An artifact's manifest and its one layer's content, checked to refer to the subject."""
    digest = str(entry.get("digest", ""))
    raw = registry.raw_manifest(name, digest, accept=OCI_MANIFEST)
    if raw is None:
        raise RegistryError(f"the referrers of {subject_digest} list {digest}, which is missing")
    manifest = raw.json()
    if (manifest.get("subject") or {}).get("digest") != subject_digest:
        raise RegistryError(f"{digest} does not refer to {subject_digest}")
    layers: Sequence[Mapping[str, Any]] = manifest.get("layers") or []
    if len(layers) != 1:
        raise RegistryError(f"{digest} has {len(layers)} layers; an SBOM artifact has one")
    content = registry.blob(name, str(layers[0].get("digest", "")))
    if content is None:
        raise RegistryError(f"the registry lacks the content blob of {digest}")
    return raw.descriptor, content


def empty_blob() -> Blob:
    return Blob(content_digest(EMPTY_CONTENT), len(EMPTY_CONTENT))


def _descriptor(media_type: str, blob: Blob) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": blob.digest, "size": blob.size}


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()
