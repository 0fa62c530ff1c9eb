"""SBOMs on a real engine and a real registry: what `invoke build` writes, what `invoke push`
attaches, and how a reader finds it again through the referrers tag.

The registry is the project's local one (Debian's docker-registry 2.8 on offline hosts), on a
free port with temporary storage, started by the release tests' `registry` fixture. Pushes
run from a clean clone with an image derived from this session's build, as in
test_release.py. The referrers index is read back with plain HTTP requests, not with the
project's client, so the check does not trust the code it checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from gemini_workflow import config, docker_engine, lockfile, referrers, sbom, sbom_image, verify
from gemini_workflow.local_registry import LocalRegistry
from gemini_workflow.registry import OCI_INDEX, OCI_MANIFEST
from gemini_workflow.release import ImageReference, ReleaseError
from tests.smoke import test_release
from tests.smoke.test_release import git, local_name, push

# The release tests' fixtures, shared rather than copied: the session's app image, a clean
# clone at 1.2.0, images derived from the app image (the registry comes from conftest).
app_image = test_release.app_image
clone = test_release.clone
make_image = test_release.make_image

pytestmark = pytest.mark.engine
ROOT = config.ROOT


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get_json(url: str, accept: str) -> tuple[dict[str, Any], str]:
    """A manifest or index by plain HTTP, with the digest of the exact bytes served."""
    response = requests.get(url, headers={"Accept": accept}, timeout=10)
    response.raise_for_status()
    return response.json(), sha256(response.content)


def test_build_writes_an_sbom_per_image_that_matches_the_lock(
    built_images: dict[str, str], engine: Any
) -> None:
    lock_text = (ROOT / lockfile.LOCK).read_text()
    for ref in built_images.values():
        name, _, tag = ref.rpartition(":")
        path = sbom.sbom_path(ROOT, name, tag)
        bom = json.loads(path.read_bytes())
        image = engine.images.get(ref)
        properties = sbom.image_properties(bom)
        assert properties[sbom_image.IMAGE_ID_PROPERTY] == image.id
        sbom.check_against_lock(bom, lock_text, what=ref)  # every locked package, no other
        base_ref = image.labels[sbom_image.BASE_LABEL]
        base = engine.images.get(base_ref)
        (described,) = [c for c in bom["components"] if c["bom-ref"] == sbom_image.BASE_REF]
        assert described["version"] in {
            base.id,
            *(d.partition("@")[2] for d in base.attrs["RepoDigests"]),
        }
        debs = [c for c in bom["components"] if c["bom-ref"].startswith("deb:")]
        assert any(c["name"] == "libc6" for c in debs)  # the dpkg database was read
        assert all(c["purl"].startswith("pkg:deb/debian/") for c in debs)
        print(f"{path.name}: {path.stat().st_size} bytes, {len(bom['components'])} components")


def test_push_attaches_the_sbom_found_through_the_referrers_tag(
    clone: Path,
    registry: LocalRegistry,
    make_image: Callable[..., str],
    engine: Any,
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    local = make_image(name, revision)

    result = push(clone, registry, "sbom", name)

    sbom_file = sbom.sbom_path(clone, name, f"sha-{revision[:7]}")
    content = sbom_file.read_bytes()
    assert sbom.described_image(sbom_file) == engine.images.get(local).id
    assert result.sbom is not None
    assert result.record.sbom == result.sbom.manifest.digest
    tag = referrers.referrers_tag(result.record.digest)
    assert result.sbom.found_through == f"tag {tag}"  # Debian's registry 2.8 has no API
    base = f"http://{registry.address}/v2/sbom/gemini-service"
    assert requests.get(f"{base}/referrers/{result.record.digest}", timeout=10).status_code == 404

    index, index_digest = get_json(f"{base}/manifests/{tag}", OCI_INDEX)
    (entry,) = index["manifests"]
    assert entry["artifactType"] == sbom.MEDIA_TYPE
    assert entry["digest"] == result.record.sbom
    manifest, manifest_digest = get_json(f"{base}/manifests/{entry['digest']}", OCI_MANIFEST)
    assert manifest_digest == entry["digest"]
    assert manifest["artifactType"] == sbom.MEDIA_TYPE
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert manifest["subject"]["digest"] == result.record.digest
    (layer,) = manifest["layers"]
    blob = requests.get(f"{base}/blobs/{layer['digest']}", timeout=10).content
    assert (layer["digest"], layer["size"]) == (sha256(content), len(content))
    assert blob == content
    print(
        f"SBOM {len(content)} bytes attached in {result.sbom.seconds:.3f} s as "
        f"{result.record.sbom}; referrers tag {tag} -> index {index_digest}"
    )

    again = push(clone, registry, "sbom", name)  # the same release again changes nothing
    assert again.record.sbom == result.record.sbom
    assert get_json(f"{base}/manifests/{tag}", OCI_INDEX)[0] == index


def test_verify_checks_the_digest_s_sbom_against_the_build_s_file(
    clone: Path,
    registry: LocalRegistry,
    make_image: Callable[..., str],
    engine: Any,
    built_images: dict[str, str],
) -> None:
    revision = git(clone, "rev-parse", "HEAD").strip()
    name = local_name()
    make_image(name, revision)
    pushed = push(clone, registry, "sbomverify", name)
    reference = ImageReference.parse(pushed.record.ref)

    report = verify.verify(
        engine,
        registry.client(),
        reference,
        fake_image=built_images["fake"],
        timeout=90,
        root=clone,
    )

    assert report.sbom is not None
    assert report.sbom.digest == pushed.record.sbom
    assert report.sbom.compared_with == f"build/sbom/gemini-service_sha-{revision[:7]}.cdx.json"
    sbom_file = sbom.sbom_path(clone, name, f"sha-{revision[:7]}")
    sbom_file.write_bytes(sbom_file.read_bytes().replace(b'"3.11', b'"3.12'))
    with pytest.raises(ReleaseError, match="differs from build/sbom/"):
        verify.verify(
            engine, registry.client(), reference, fake_image=built_images["fake"], root=clone
        )
    assert docker_engine.inspect_image(engine, pushed.record.ref) is not None  # nothing removed
