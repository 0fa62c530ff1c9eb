"""The SBOM in a release: `invoke push` attaches it to the pushed digest, `invoke verify`
checks that the digest has it and that it says what the build said.

Attaching and finding go through referrers.py (OCI 1.1 referrers API, or the referrers tag
where the registry lacks it), so any OCI tool finds the same SBOM: `oras discover`,
`trivy image --sbom-sources oci`, `cosign tree`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gemini_workflow import lockfile, referrers, sbom
from gemini_workflow.registry import Descriptor, RegistryAuthError, RegistryClient, RegistryError
from gemini_workflow.release import REVISION_LABEL, ImageReference, ReleaseError

ARTIFACT_TYPE = sbom.MEDIA_TYPE
TITLE_ANNOTATION = "org.opencontainers.image.title"


@dataclass(frozen=True)
class SbomCheck:
    """Which SBOM verify found for a digest, how, and what it was compared with."""

    digest: str  # the SBOM artifact's manifest digest
    found_through: str  # "referrers API" or "tag sha256-<hex>"
    compared_with: str  # the local SBOM file, the lock, or nothing (existence only)


def attach(registry: RegistryClient, name: str, digest: str, sbom_file: Path) -> referrers.Attached:
    """Attach an image's SBOM file to its pushed manifest `name@digest`."""
    try:
        return referrers.attach(
            registry,
            name,
            digest,
            sbom_file.read_bytes(),
            artifact_type=ARTIFACT_TYPE,
            annotations={TITLE_ANNOTATION: sbom_file.name},
        )
    except RegistryAuthError:
        raise
    except RegistryError as error:
        raise ReleaseError(
            f"attaching the SBOM {sbom_file.name} to {name}@{digest} failed ({error}); run "
            "`invoke push` again: the tags already pushed show as unchanged"
        ) from None


def summary(attached: referrers.Attached) -> str:
    """One line for `invoke push`: the SBOM's digest, its size, time, how tools find it."""
    return (
        f"sbom: {attached.manifest.digest} ({attached.content.size / 1e3:.1f} kB) attached to "
        f"the digest in {attached.seconds:.2f} s; found through the {attached.found_through}"
    )


def check(
    registry: RegistryClient, ref: ImageReference, image_id: str, *, root: Path | None
) -> SbomCheck:
    """The pushed digest has an SBOM, equal to build/sbom's file for that image.

    Without that file (someone else's image, another checkout), the SBOM must list exactly
    the packages this checkout's lock pins for the platform the SBOM declares. Without a
    root, only its presence is checked.
    """
    assert ref.digest is not None
    name = ref.repository.path
    try:
        found, through = referrers.find(registry, name, ref.digest, artifact_type=ARTIFACT_TYPE)
        if not found:
            raise ReleaseError(
                f"{ref} has no SBOM attached (looked for {ARTIFACT_TYPE} referrers through "
                f"the {through}); push it with `invoke push`, which attaches one"
            )
        attached = [referrers.fetch(registry, name, ref.digest, entry) for entry in found]
        revision = registry.image_labels(name, image_id).get(REVISION_LABEL, "")
    except RegistryError as error:
        raise ReleaseError(f"reading the SBOM of {ref} failed: {error}") from None
    if root is None:
        return SbomCheck(attached[-1][0].digest, through, "nothing local (presence only)")
    local = sbom.sbom_path(root, name, f"sha-{revision[:7]}") if revision else None
    if local is not None and local.exists():
        return _same_as_file(ref, attached, through, local, root)
    return _lists_the_lock(ref, attached, through, root)


def _same_as_file(
    ref: ImageReference,
    attached: list[tuple[Descriptor, bytes]],
    through: str,
    local: Path,
    root: Path,
) -> SbomCheck:
    expected = local.read_bytes()
    for descriptor, content in attached:
        if content == expected:
            return SbomCheck(descriptor.digest, through, str(local.relative_to(root)))
    seen = ", ".join(descriptor.digest for descriptor, _ in attached)
    raise ReleaseError(
        f"the SBOM attached to {ref} ({seen}) differs from {local.relative_to(root)}, which "
        "`invoke build` wrote for that image: it was pushed from another build. Push this "
        "build again with `invoke push`, or verify on the host that built the pushed image"
    )


def _lists_the_lock(
    ref: ImageReference,
    attached: list[tuple[Descriptor, bytes]],
    through: str,
    root: Path,
) -> SbomCheck:
    lock_text = (root / lockfile.LOCK).read_text(encoding="utf-8")
    problem = ""
    for descriptor, content in attached:
        try:
            sbom.check_against_lock(json.loads(content), lock_text, what=str(ref))
        except (sbom.SbomError, ValueError) as error:
            problem = str(error)
            continue
        return SbomCheck(descriptor.digest, through, f"the packages of {lockfile.LOCK}")
    raise ReleaseError(
        f"{problem} (no local SBOM file for this image, so its SBOM was compared with this "
        "checkout's lock: verify from the checkout that built it)"
    )
