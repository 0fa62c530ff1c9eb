"""OCI artifacts on an image digest: the manifest and index shapes, their digests, merging, and
both ways to find them (referrers API, referrers tag), against a stub registry on a socket."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from gemini_workflow import referrers
from gemini_workflow.registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Descriptor,
    RegistryClient,
    RegistryError,
    content_digest,
)
from tests.gemini_workflow.oci_stub import OciStub, digest_of, running

TYPE = "application/vnd.cyclonedx+json"
SUBJECT = Descriptor(
    "application/vnd.docker.distribution.manifest.v2+json", "sha256:" + "d" * 64, 529
)


@pytest.fixture(params=[False, True], ids=["tag-scheme", "referrers-api"])
def stub(request: pytest.FixtureRequest) -> Iterator[OciStub]:
    with running(OciStub(referrers_api=request.param)) as served:
        yield served


@pytest.fixture
def old_registry() -> Iterator[OciStub]:
    """Like Debian's docker-registry 2.8: no referrers API."""
    with running(OciStub()) as served:
        yield served


def test_the_artifact_manifest_has_the_oci_1_1_shape() -> None:
    content = Blob("sha256:" + "c" * 64, 1234)
    body = referrers.artifact_manifest(
        SUBJECT, content, artifact_type=TYPE, annotations={"org.opencontainers.image.title": "x"}
    )
    manifest = json.loads(body)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["artifactType"] == TYPE
    assert manifest["config"] == {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
        "data": base64.b64encode(b"{}").decode(),
    }
    assert manifest["layers"] == [{"mediaType": TYPE, "digest": content.digest, "size": 1234}]
    assert manifest["subject"] == SUBJECT.as_json()
    assert manifest["annotations"] == {"org.opencontainers.image.title": "x"}
    assert body == referrers.artifact_manifest(
        SUBJECT, content, artifact_type=TYPE, annotations={"org.opencontainers.image.title": "x"}
    )  # the same artifact serialises to the same bytes, so the same digest


def test_the_referrers_tag_is_the_digest_with_a_dash() -> None:
    assert referrers.referrers_tag("sha256:" + "a" * 64) == "sha256-" + "a" * 64
    assert referrers.is_referrers_tag("sha256-" + "a" * 64)
    assert not referrers.is_referrers_tag("sha-abc1234")
    with pytest.raises(ValueError, match="not a digest"):
        referrers.referrers_tag("latest")


def test_merging_keeps_other_referrers_and_adds_an_entry_once() -> None:
    signature = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "5" * 64, "size": 9}
    entry = referrers.referrer_entry(Descriptor(OCI_MANIFEST, "sha256:" + "6" * 64, 7), TYPE)
    index = referrers.merged_index({"manifests": [signature]}, entry)
    assert index == {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [signature, {**entry, "artifactType": TYPE}],
    }
    assert referrers.merged_index(index, entry) == index
    assert referrers.merged_index(None, entry)["manifests"] == [entry]


def test_an_attached_artifact_is_found_with_its_content(stub: OciStub) -> None:
    subject, _ = stub.push_image("ns/app", "1.0.0", {"config": {}})
    client = RegistryClient(stub.host)

    attached = referrers.attach(
        client, "ns/app", subject, b'{"bomFormat":"CycloneDX"}', artifact_type=TYPE
    )

    found, through = referrers.find(client, "ns/app", subject, artifact_type=TYPE)
    assert [entry["digest"] for entry in found] == [attached.manifest.digest]
    assert through == attached.found_through
    descriptor, content = referrers.fetch(client, "ns/app", subject, found[0])
    assert content == b'{"bomFormat":"CycloneDX"}'
    assert descriptor == attached.manifest
    assert attached.content == Blob(digest_of(content), len(content))
    manifest = json.loads(stub.manifests[attached.manifest.digest][0])
    assert manifest["subject"]["digest"] == subject
    assert manifest["subject"]["size"] == len(stub.manifests[subject][0])


def test_without_the_api_the_referrers_tag_holds_the_index(old_registry: OciStub) -> None:
    subject, _ = old_registry.push_image("ns/app", "1.0.0", {})
    client = RegistryClient(old_registry.host)

    attached = referrers.attach(client, "ns/app", subject, b"sbom", artifact_type=TYPE)

    tag = referrers.referrers_tag(subject)
    assert attached.found_through == f"tag {tag}"
    index_body, media_type = old_registry.manifests[old_registry.tags[f"ns/app:{tag}"]]
    assert media_type == OCI_INDEX
    index = json.loads(index_body)
    assert index["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": attached.manifest.digest,
            "size": attached.manifest.size,
            "artifactType": TYPE,
        }
    ]
    # The push decided by the missing OCI-Subject header; a reader asks the API first.
    assert ("GET", f"/v2/ns/app/referrers/{subject}") not in old_registry.requests
    found, through = referrers.find(client, "ns/app", subject, artifact_type=TYPE)
    assert ("GET", f"/v2/ns/app/referrers/{subject}") in old_registry.requests
    assert (len(found), through) == (1, f"tag {tag}")


def test_with_the_api_no_referrers_tag_is_written() -> None:
    with running(OciStub(referrers_api=True)) as stub:
        subject, _ = stub.push_image("ns/app", "1.0.0", {})
        attached = referrers.attach(
            RegistryClient(stub.host), "ns/app", subject, b"x", artifact_type=TYPE
        )
    assert attached.found_through == referrers.REFERRERS_API
    assert list(stub.tags) == ["ns/app:1.0.0"]


def test_attaching_again_changes_nothing_and_other_referrers_stay(old_registry: OciStub) -> None:
    subject, _ = old_registry.push_image("ns/app", "1.0.0", {})
    client = RegistryClient(old_registry.host)
    other = referrers.attach(client, "ns/app", subject, b"a signature", artifact_type="sig")
    first = referrers.attach(client, "ns/app", subject, b"sbom", artifact_type=TYPE)
    index_before = old_registry.tags[f"ns/app:{referrers.referrers_tag(subject)}"]

    again = referrers.attach(client, "ns/app", subject, b"sbom", artifact_type=TYPE)

    assert again.manifest == first.manifest
    assert old_registry.tags[f"ns/app:{referrers.referrers_tag(subject)}"] == index_before
    listed = json.loads(old_registry.manifests[index_before][0])["manifests"]
    assert [m["digest"] for m in listed] == [other.manifest.digest, first.manifest.digest]
    found, _ = referrers.find(client, "ns/app", subject, artifact_type=TYPE)
    assert [m["digest"] for m in found] == [first.manifest.digest]  # filtered by type


def test_a_subject_that_is_not_pushed_is_refused(stub: OciStub) -> None:
    with pytest.raises(RegistryError, match="push it first"):
        referrers.attach(
            RegistryClient(stub.host), "ns/app", "sha256:" + "0" * 64, b"x", artifact_type=TYPE
        )


def test_nothing_attached_is_an_empty_list(stub: OciStub) -> None:
    subject, _ = stub.push_image("ns/app", "1.0.0", {})
    assert referrers.find(RegistryClient(stub.host), "ns/app", subject, artifact_type=TYPE)[0] == []


def test_content_that_does_not_match_its_digest_is_refused(old_registry: OciStub) -> None:
    subject, _ = old_registry.push_image("ns/app", "1.0.0", {})
    client = RegistryClient(old_registry.host)
    referrers.attach(client, "ns/app", subject, b"sbom", artifact_type=TYPE)
    (entry,), _ = referrers.find(client, "ns/app", subject, artifact_type=TYPE)
    old_registry.corrupt_blobs = True
    with pytest.raises(RegistryError, match="does not match"):
        referrers.fetch(client, "ns/app", subject, entry)


def test_a_referrer_of_another_subject_is_refused(old_registry: OciStub) -> None:
    subject, _ = old_registry.push_image("ns/app", "1.0.0", {})
    other, _ = old_registry.push_image("ns/app", "2.0.0", {"other": True})
    client = RegistryClient(old_registry.host)
    attached = referrers.attach(client, "ns/app", other, b"sbom", artifact_type=TYPE)
    with pytest.raises(RegistryError, match="does not refer to"):
        referrers.fetch(client, "ns/app", subject, {"digest": attached.manifest.digest})


def test_uploading_a_blob_the_registry_has_is_skipped(old_registry: OciStub) -> None:
    client = RegistryClient(old_registry.host)
    first = client.upload_blob("ns/app", b"content")
    second = client.upload_blob("ns/app", b"content")
    assert first == second == Blob(content_digest(b"content"), 7)
    assert [r for r in old_registry.requests if r[0] == "POST"] == [
        ("POST", "/v2/ns/app/blobs/uploads/")
    ]


def test_a_manifest_is_described_by_type_digest_and_size(old_registry: OciStub) -> None:
    digest, size = old_registry.push_image("ns/app", "1.0.0", {})
    client = RegistryClient(old_registry.host)
    assert client.descriptor("ns/app", "1.0.0") == Descriptor(
        "application/vnd.docker.distribution.manifest.v2+json", digest, size
    )
    assert client.descriptor("ns/app", "missing") is None
    assert client.referrers("ns/app", digest) is None  # 404: the API is missing
