"""The SBOM in a release: attached by push, checked by verify against build/sbom or the lock,
with a stub registry on a socket (with and without the referrers API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemini_workflow import lockfile, referrers, sbom, sbom_release
from gemini_workflow.registry import RegistryClient
from gemini_workflow.release import REVISION_LABEL, ImageReference, ReleaseError, Repository
from tests.gemini_workflow.oci_stub import OciStub, digest_of, running
from tests.gemini_workflow.sbom_samples import ENVIRONMENT, LOCK_TEXT, facts

REVISION = "0123456789abcdef0123456789abcdef01234567"
NAME = "llm-apps/gemini-service"


@pytest.fixture(params=[False, True], ids=["tag-scheme", "referrers-api"])
def stub(request: pytest.FixtureRequest) -> Iterator[OciStub]:
    with running(OciStub(referrers_api=request.param)) as served:
        yield served


@pytest.fixture(scope="module")
def sbom_bytes() -> bytes:
    """The real generator's SBOM for the sample image facts (Python 3.11.2 on amd64)."""
    python = sbom.python_bom(sbom.installed_part(LOCK_TEXT, ENVIRONMENT))
    return sbom.render(sbom.compose(python, facts(), name="gemini-service", tag="sha-0123456"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "containers").mkdir()
    (tmp_path / lockfile.LOCK).write_text(LOCK_TEXT)
    return tmp_path


def pushed(stub: OciStub) -> tuple[ImageReference, str]:
    """An image in the stub registry labelled with this revision; its ref and image id."""
    config = {"config": {"Labels": {REVISION_LABEL: REVISION}}}
    digest, _ = stub.push_image(NAME, "1.2.0", config)
    image_id = digest_of(json.dumps(config).encode())
    return ImageReference(Repository(stub.host, NAME), None, digest), image_id


def local_file(root: Path, content: bytes) -> Path:
    return sbom.write(sbom.sbom_path(root, "gemini-service", "sha-0123456"), content)


def test_attach_then_check_against_the_build_s_file(
    stub: OciStub, root: Path, sbom_bytes: bytes
) -> None:
    ref, image_id = pushed(stub)
    client = RegistryClient(stub.host)
    attached = sbom_release.attach(client, NAME, str(ref.digest), local_file(root, sbom_bytes))

    check = sbom_release.check(client, ref, image_id, root=root)

    assert check.digest == attached.manifest.digest
    assert check.found_through == attached.found_through
    assert check.compared_with == "build/sbom/gemini-service_sha-0123456.cdx.json"
    assert "sbom: sha256:" in sbom_release.summary(attached)
    manifest = json.loads(stub.manifests[attached.manifest.digest][0])
    assert manifest["annotations"] == {
        "org.opencontainers.image.title": "gemini-service_sha-0123456.cdx.json"
    }


def test_an_sbom_other_than_the_build_s_is_refused(
    stub: OciStub, root: Path, sbom_bytes: bytes
) -> None:
    ref, image_id = pushed(stub)
    client = RegistryClient(stub.host)
    sbom_release.attach(client, NAME, str(ref.digest), local_file(root, sbom_bytes))
    local_file(root, sbom_bytes.replace(b"3.11.2", b"3.11.9"))  # another build of the commit
    with pytest.raises(ReleaseError, match=r"differs from build/sbom/.*pushed from another build"):
        sbom_release.check(client, ref, image_id, root=root)


def test_without_a_local_file_the_sbom_must_list_the_lock(
    stub: OciStub, root: Path, sbom_bytes: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ref, image_id = pushed(stub)
    client = RegistryClient(stub.host)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    sbom_release.attach(client, NAME, str(ref.digest), local_file(elsewhere, sbom_bytes))

    check = sbom_release.check(client, ref, image_id, root=root)  # no build/sbom in root

    assert check.compared_with == f"the packages of {lockfile.LOCK}"
    (root / lockfile.LOCK).write_text(LOCK_TEXT.replace("\nfastapi==", "\nfastapix=="))
    with pytest.raises(ReleaseError, match=r"missing fastapix==.*compared with this checkout's"):
        sbom_release.check(client, ref, image_id, root=root)


def test_a_digest_without_an_sbom_says_to_push_again(stub: OciStub, root: Path) -> None:
    ref, image_id = pushed(stub)
    with pytest.raises(ReleaseError, match=r"has no SBOM attached .*`invoke push`"):
        sbom_release.check(RegistryClient(stub.host), ref, image_id, root=root)


def test_without_a_root_only_presence_is_checked(
    stub: OciStub, sbom_bytes: bytes, root: Path
) -> None:
    ref, image_id = pushed(stub)
    client = RegistryClient(stub.host)
    attached = sbom_release.attach(client, NAME, str(ref.digest), local_file(root, sbom_bytes))
    check = sbom_release.check(client, ref, image_id, root=None)
    assert (check.digest, check.compared_with) == (
        attached.manifest.digest,
        "nothing local (presence only)",
    )


def test_a_registry_failure_while_attaching_says_push_again(root: Path, sbom_bytes: bytes) -> None:
    with running(OciStub()) as stub:
        client = RegistryClient(stub.host)
        with pytest.raises(ReleaseError, match=r"attaching the SBOM .* run `invoke push` again"):
            sbom_release.attach(client, NAME, "sha256:" + "0" * 64, local_file(root, sbom_bytes))


def test_the_referrers_tag_scheme_is_what_an_old_registry_gets(
    root: Path, sbom_bytes: bytes
) -> None:
    with running(OciStub()) as stub:
        ref, _ = pushed(stub)
        attached = sbom_release.attach(
            RegistryClient(stub.host), NAME, str(ref.digest), local_file(root, sbom_bytes)
        )
        tags = sorted(stub.tags)
    assert attached.found_through == f"tag {referrers.referrers_tag(str(ref.digest))}"
    assert tags == [f"{NAME}:1.2.0", f"{NAME}:{referrers.referrers_tag(str(ref.digest))}"]
