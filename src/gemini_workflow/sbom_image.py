"""The image side of an SBOM: what is read from the image itself, as CycloneDX components.

Nothing here runs the image: docker_engine reads its inspect data and three files from a
created, never started container (the venv's config for the Python version, the dpkg database,
os-release). The base image is described by the reference the image's own
`org.opencontainers.image.base.name` label names, and the digests the engine has for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from gemini_workflow import docker_engine
from gemini_workflow.errors import WorkflowError

VENV_CONFIG = "/opt/venv/pyvenv.cfg"  # the Dockerfile's venv: holds the image's Python version
DPKG_STATUS = "/var/lib/dpkg/status"
OS_RELEASE = "/etc/os-release"
BASE_LABEL = "org.opencontainers.image.base.name"
IMAGE_ID_PROPERTY = "gemini-service:image:id"
PYTHON_PROPERTY = "gemini-service:image:python-version"  # with the architecture below, the
ARCH_PROPERTY = "gemini-service:image:architecture"  # platform the lock's markers are judged for
IMAGE_REF, BASE_REF, OS_REF = "image", "base-image", "operating-system"  # bom-refs
_MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}


class SbomError(WorkflowError):
    """An SBOM could not be made, or does not say what the image holds."""


@dataclass(frozen=True)
class BaseImage:
    """The image's base as the engine knows it: the configured reference and its digests."""

    reference: str
    image_id: str | None = None  # config digest; the only digest of a locally built stand-in
    repo_digest: str | None = None  # repository@sha256:..., for a base pulled from a registry


@dataclass(frozen=True)
class ImageFacts:
    """What the SBOM says about the image beyond the lock, read without running the image."""

    image_id: str
    architecture: str
    labels: Mapping[str, str]
    python_version: str  # full, e.g. 3.11.2
    base: BaseImage | None
    dpkg_status: str | None
    os_release: str | None


def read_facts(client: Any, ref: str) -> ImageFacts:
    """The image's id, labels and Python version; its base; its dpkg database and OS."""
    inspect = docker_engine.inspect_image(client, ref)
    if inspect is None:
        raise SbomError(f"no local image {ref} to describe: run `invoke build`")
    files = docker_engine.read_image_files(client, ref, (VENV_CONFIG, DPKG_STATUS, OS_RELEASE))
    venv = (files[VENV_CONFIG] or b"").decode(errors="replace")
    version = re.search(r"^version\s*=\s*(\d+\.\d+\.\d+)", venv, re.MULTILINE)
    if version is None:
        raise SbomError(
            f"{ref} has no {VENV_CONFIG} naming its Python version: SBOMs describe images "
            "built from containers/Dockerfile; build it with `invoke build`"
        )
    labels = dict((inspect.get("Config") or {}).get("Labels") or {})
    return ImageFacts(
        image_id=str(inspect["Id"]),
        architecture=str(inspect.get("Architecture") or "amd64"),
        labels=labels,
        python_version=version[1],
        base=_base(client, labels.get(BASE_LABEL)),
        dpkg_status=_text(files[DPKG_STATUS]),
        os_release=_text(files[OS_RELEASE]),
    )


def _base(client: Any, reference: str | None) -> BaseImage | None:
    if not reference:
        return None
    inspect = docker_engine.inspect_image(client, reference) or {}
    repo_digests = inspect.get("RepoDigests") or []
    return BaseImage(reference, inspect.get("Id"), repo_digests[0] if repo_digests else None)


def _text(data: bytes | None) -> str | None:
    return data.decode("utf-8", errors="replace") if data is not None else None


def marker_environment(python_version: str, architecture: str) -> dict[str, str]:
    """PEP 508 marker values of the image: CPython on Linux, its version and machine."""
    return {
        "python_version": ".".join(python_version.split(".")[:2]),
        "python_full_version": python_version,
        "implementation_version": python_version,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": _MACHINES.get(architecture, architecture),
    }


def image_component(facts: ImageFacts, name: str, tag: str) -> dict[str, Any]:
    labels = {k: v for k, v in sorted(facts.labels.items()) if k.startswith("org.opencontainers")}
    properties = [
        {"name": IMAGE_ID_PROPERTY, "value": facts.image_id},
        {"name": PYTHON_PROPERTY, "value": facts.python_version},
        {"name": ARCH_PROPERTY, "value": facts.architecture},
    ]
    properties += [{"name": key, "value": value} for key, value in labels.items() if value]
    return {
        "type": "container",
        "bom-ref": IMAGE_REF,
        "name": name,
        "version": tag,
        "properties": properties,
    }


def base_component(base: BaseImage) -> dict[str, Any]:
    """The base by reference and digest: the registry digest when pulled, else its image id."""
    reference = base.reference.partition("@")[0]
    repository, tag = reference, ""
    if ":" in reference.rsplit("/", 1)[-1]:
        repository, _, tag = reference.rpartition(":")
    digest = (base.repo_digest or "").partition("@")[2] or base.image_id or "unknown"
    properties = {
        "gemini-service:base:reference": base.reference,
        "gemini-service:base:image-id": base.image_id,
        "gemini-service:base:repo-digest": base.repo_digest,
    }
    component: dict[str, Any] = {
        "type": "container",
        "bom-ref": BASE_REF,
        "name": repository,
        "version": digest,
        "properties": [{"name": k, "value": v} for k, v in properties.items() if v],
    }
    if digest.startswith("sha256:"):
        component["hashes"] = [{"alg": "SHA-256", "content": digest.removeprefix("sha256:")}]
    if base.repo_digest:
        qualifiers = {"repository_url": _registry_url(base.repo_digest), "tag": tag}
        component["purl"] = PackageURL(
            type="oci",
            name=repository.rsplit("/", 1)[-1],
            version=digest,
            qualifiers={k: v for k, v in qualifiers.items() if v},
        ).to_string()
    return component


def base_parts(
    facts: ImageFacts, base: BaseImage
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Components and graph of the base: base image -> operating system -> Debian packages.

    The Debian packages are read from the image itself; the Dockerfile installs none of its
    own, so each one comes with the base. An unreadable dpkg database is said, not hidden.
    """
    component = base_component(base)
    if facts.dpkg_status is None:
        note = {"name": "gemini-service:debian-packages", "value": f"{DPKG_STATUS} unreadable"}
        component["properties"].append(note)
    system, packages = debian_components(facts)
    package_refs = [str(p["bom-ref"]) for p in packages]
    graph = [{"ref": p["bom-ref"]} for p in packages]
    if system is None:
        return [component, *packages], [{"ref": BASE_REF, "dependsOn": package_refs}, *graph]
    tree = [{"ref": BASE_REF, "dependsOn": [OS_REF]}, {"ref": OS_REF, "dependsOn": package_refs}]
    return [component, system, *packages], tree + graph


def _registry_url(repo_digest: str) -> str:
    """`python@sha256:...` -> docker.io/library/python: the full repository, as docker reads it."""
    repository = repo_digest.partition("@")[0]
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return repository
    return f"docker.io/{repository if rest else f'library/{repository}'}"


def debian_components(facts: ImageFacts) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The operating system (os-release) and each installed package of the dpkg database."""
    release = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', facts.os_release or "", re.MULTILINE))
    system = None
    if release.get("ID"):
        system = {
            "type": "operating-system",
            "bom-ref": OS_REF,
            "name": release["ID"],
            "version": release.get("VERSION_ID", ""),
            "description": release.get("PRETTY_NAME", ""),
        }
    distro = f"{release.get('ID', 'debian')}-{release.get('VERSION_ID', '')}".rstrip("-")
    packages = [_deb_component(fields, distro) for fields in dpkg_packages(facts.dpkg_status or "")]
    return system, packages


def dpkg_packages(status: str) -> list[dict[str, str]]:
    """The installed packages of a dpkg status file (one field dict each), sorted by name."""
    found = []
    for paragraph in re.split(r"\n\s*\n", status):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", paragraph, re.MULTILINE))
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            found.append(fields)
    return sorted(found, key=lambda f: (f["Package"], f.get("Architecture", "")))


def _deb_component(fields: Mapping[str, str], distro: str) -> dict[str, Any]:
    name, version, arch = fields["Package"], fields.get("Version", ""), fields.get("Architecture")
    qualifiers = {"arch": arch or "", "distro": distro}
    if source := fields.get("Source", "").split(" ")[0]:
        qualifiers["upstream"] = source
    purl = PackageURL(
        type="deb",
        namespace="debian",
        name=name,
        version=version,
        qualifiers={k: v for k, v in qualifiers.items() if v},
    )
    return {
        "type": "library",
        "bom-ref": f"deb:{name}:{arch}",
        "name": name,
        "version": version,
        "purl": purl.to_string(),
    }
