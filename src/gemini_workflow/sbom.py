"""A CycloneDX SBOM for every image `invoke build` makes, checked against the image lock.

The Python part comes from the maintained generator, cyclonedx-bom, run on the image lock
(`cyclonedx-py requirements`), not on the image's installed environment: the lock is what the
Dockerfile installs (`pip install --no-deps --require-hashes`, nothing else), it carries the
hashes pip verified, which an installed environment no longer has, and it needs neither a
container run nor network. Only the entries pip installs on the image's platform go in (the
lock is universal: it pins emscripten-only packages too), judged with the image's own Python
version from its venv. The rest is read from the image without running it: the base image
(reference and digest) and the Debian packages of its dpkg database.

After generating, the SBOM's Python packages (name, version, hashes) must equal the lock's, so
a generator change or a lock the image does not follow is caught at build time.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from gemini_workflow import docker_engine, lockfile
from gemini_workflow.sbom_image import (
    ARCH_PROPERTY,
    BASE_REF,
    IMAGE_ID_PROPERTY,
    IMAGE_REF,
    PYTHON_PROPERTY,
    ImageFacts,
    base_parts,
    image_component,
    marker_environment,
    read_facts,
)
from gemini_workflow.sbom_image import SbomError as SbomError

SBOM_DIR = Path("build/sbom")
MEDIA_TYPE = "application/vnd.cyclonedx+json"


def sbom_path(root: Path, image_name: str, tag: str) -> Path:
    """build/sbom/<last part of the image name>_<tag>.cdx.json, e.g. gemini-service_sha-abc1234.

    The last part only: the file is found again from a registry path (verify), whose
    namespace differs from the local name.
    """
    return root / SBOM_DIR / f"{image_name.rsplit('/', 1)[-1]}_{tag}.cdx.json"


def installed_part(lock_text: str, environment: Mapping[str, str]) -> str:
    """The lock with the entries pip skips on this platform blanked (line numbers kept)."""
    lines = lock_text.splitlines()
    for package in lockfile.locked_packages(lock_text):
        if not package.applies(environment):
            lines[package.first_line - 1 : package.last_line] = [""] * (
                package.last_line - package.first_line + 1
            )
    return "\n".join(lines) + "\n"


@functools.cache
def python_bom(requirements: str) -> dict[str, Any]:
    """cyclonedx-py's SBOM of a requirements text (one run per text: app and fake share it).

    Run as `python -m cyclonedx_py` from this environment (uv.lock pins it), never from PATH.
    Without schema validation: it costs about 6 s per run on two cores, and the finished
    document's shape is fixed by this module and validated by its unit tests.
    """
    command = [sys.executable, "-m", "cyclonedx_py", "requirements", "-", "--sv", "1.6"]
    command += ["--of", "JSON", "--output-reproducible", "--no-validate", "-o", "-"]
    result = subprocess.run(
        command, input=requirements, capture_output=True, text=True, check=False, timeout=120
    )
    try:
        found = json.loads(result.stdout) if result.returncode == 0 else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SbomError(
            f"cyclonedx-py failed (exit {result.returncode}): {' / '.join(tail)}; run "
            "`.venv/bin/uv sync --frozen` to restore the pinned cyclonedx-bom, then build again"
        )
    return found


def compose(python: Mapping[str, Any], facts: ImageFacts, *, name: str, tag: str) -> dict[str, Any]:
    """The image's SBOM: the image as the subject, its Python packages, base, OS packages.

    The dependency graph says where each part comes from: image -> Python packages and base
    image -> operating system -> Debian packages (the Dockerfile installs no Debian package of
    its own, so every one comes with the base).
    """
    bom = copy.deepcopy(dict(python))
    components: list[dict[str, Any]] = list(bom.get("components") or [])
    graph: list[dict[str, Any]] = list(bom.get("dependencies") or [])
    image_deps = [str(c["bom-ref"]) for c in components if "bom-ref" in c]
    if facts.base is not None:
        base, base_graph = base_parts(facts, facts.base)
        components += base
        graph += base_graph
        image_deps.append(BASE_REF)
    graph.append({"ref": IMAGE_REF, "dependsOn": image_deps})
    metadata = {**bom.get("metadata", {}), "component": image_component(facts, name, tag)}
    if created := facts.labels.get("org.opencontainers.image.created"):
        metadata["timestamp"] = created
    bom.update(metadata=metadata, components=components, dependencies=graph)
    return bom


def python_packages(bom: Mapping[str, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (version, sorted SHA-256 hashes) of the SBOM's PyPI components."""
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for component in bom.get("components") or []:
        if not str(component.get("purl", "")).startswith("pkg:pypi/"):
            continue
        hashes = {
            str(h["content"])
            for reference in component.get("externalReferences") or []
            for h in reference.get("hashes") or []
            if h.get("alg") == "SHA-256"
        }
        found[str(canonicalize_name(str(component["name"])))] = (
            str(component.get("version", "")),
            tuple(sorted(hashes)),
        )
    return found


def check_python(
    bom: Mapping[str, Any], locked: Sequence[lockfile.LockedPackage], *, what: str
) -> None:
    """The SBOM's Python packages must be exactly the lock's, with the lock's hashes."""
    want = {p.name: (p.version, tuple(sorted(p.hashes))) for p in locked}
    have = python_packages(bom)
    problems = [f"missing {n}=={want[n][0]}" for n in sorted(want.keys() - have.keys())]
    problems += [f"unexpected {n}=={have[n][0]}" for n in sorted(have.keys() - want.keys())]
    for name in sorted(want.keys() & have.keys()):
        if have[name][0] != want[name][0]:
            problems.append(f"{name} {have[name][0]} (lock: {want[name][0]})")
        elif have[name][1] != want[name][1]:
            problems.append(f"{name} {want[name][0]} with other hashes than the lock's")
    if problems:
        raise SbomError(
            f"the SBOM of {what} does not list the packages of {lockfile.LOCK}: "
            f"{'; '.join(problems[:8])}{' ...' if len(problems) > 8 else ''}. The image "
            "installs exactly the lock: run `invoke images.lock` if it is stale, then "
            "`invoke build`; if it persists, cyclonedx-bom misread the lock (pin another version)"
        )


def render(bom: Mapping[str, Any]) -> bytes:
    """Stable bytes: the same image gives the same SBOM, so the same digest in the registry."""
    return (json.dumps(bom, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def generate(client: Any, root: Path, ref: str, *, name: str, tag: str) -> bytes:
    """The checked SBOM of local image `ref`, describing it as `name:tag`."""
    facts = read_facts(client, ref)
    environment = marker_environment(facts.python_version, facts.architecture)
    lock_text = (root / lockfile.LOCK).read_text(encoding="utf-8")
    bom = compose(python_bom(installed_part(lock_text, environment)), facts, name=name, tag=tag)
    check_python(bom, _installed(lock_text, environment), what=f"{name}:{tag}")
    return render(bom)


def check_against_lock(bom: Mapping[str, Any], lock_text: str, *, what: str) -> None:
    """An SBOM made elsewhere must list this lock's packages for the platform it declares."""
    properties = image_properties(bom)
    python, architecture = properties.get(PYTHON_PROPERTY), properties.get(ARCH_PROPERTY)
    if not python or not architecture:
        raise SbomError(f"the SBOM of {what} does not say its image's Python and architecture")
    locked = _installed(lock_text, marker_environment(python, architecture))
    check_python(bom, locked, what=what)


def _installed(lock_text: str, environment: Mapping[str, str]) -> list[lockfile.LockedPackage]:
    return [p for p in lockfile.locked_packages(lock_text) if p.applies(environment)]


def write(path: Path, content: bytes) -> Path:
    """Write atomically: a reader never sees half an SBOM, a failure leaves none behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def image_properties(bom: Mapping[str, Any]) -> dict[str, str]:
    """The properties of the image an SBOM describes (its metadata component)."""
    try:
        component = bom["metadata"]["component"]
        return {str(p["name"]): str(p["value"]) for p in component.get("properties", [])}
    except (KeyError, TypeError, AttributeError):
        return {}


def described_image(path: Path) -> str | None:
    """The image id an SBOM file was made for (None if unreadable): whether it is current."""
    try:
        bom = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return image_properties(bom).get(IMAGE_ID_PROPERTY)


def ensure(client: Any, root: Path, ref: str) -> Path:
    """The SBOM file of local image `name:tag`, made now unless it already describes it."""
    name, _, tag = ref.rpartition(":")
    path = sbom_path(root, name, tag)
    inspect = docker_engine.inspect_image(client, ref)
    if inspect is not None and path.exists() and described_image(path) == inspect.get("Id"):
        return path
    return write(path, generate(client, root, ref, name=name, tag=tag))
