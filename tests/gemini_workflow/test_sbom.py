"""SBOM generation and its check: the real cyclonedx-py on the real lock, image facts from
sample files (no engine), the finished document validated against the CycloneDX 1.6 schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from gemini_workflow import docker_engine, lockfile, sbom, sbom_image
from tests.gemini_workflow import sbom_samples

ROOT = sbom_samples.ROOT
LOCK_TEXT = sbom_samples.LOCK_TEXT
ENVIRONMENT = sbom_samples.ENVIRONMENT
facts = sbom_samples.facts


def installed() -> list[lockfile.LockedPackage]:
    return [p for p in lockfile.locked_packages(LOCK_TEXT) if p.applies(ENVIRONMENT)]


@pytest.fixture(scope="module")
def python_part() -> dict[str, Any]:
    """cyclonedx-py's SBOM of what pip installs from the real lock on the image's platform."""
    return sbom.python_bom(sbom.installed_part(LOCK_TEXT, ENVIRONMENT))


@pytest.fixture(scope="module")
def document(python_part: dict[str, Any]) -> dict[str, Any]:
    return sbom.compose(python_part, facts(), name="gemini-service", tag="sha-0123456")


def components(bom: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in bom["components"] if c["type"] == kind]


def test_the_image_gets_every_locked_package_its_platform_installs(
    python_part: dict[str, Any],
) -> None:
    packages = sbom.python_packages(python_part)
    assert packages == {p.name: (p.version, tuple(sorted(p.hashes))) for p in installed()}
    assert "fastapi" in packages
    assert all(hashes for _, hashes in packages.values())  # versions and hashes
    assert "httpx2-jsfetch" not in packages  # emscripten only: pip skips it in the image


def test_entries_pip_skips_are_blanked_and_line_numbers_kept() -> None:
    part = sbom.installed_part(LOCK_TEXT, ENVIRONMENT)
    assert len(part.splitlines()) == len(LOCK_TEXT.splitlines())
    assert "httpx2-jsfetch" not in part
    assert "uvloop==" in part  # `sys_platform != 'win32'` holds on Linux


def test_the_document_is_valid_cyclonedx_1_6(document: dict[str, Any]) -> None:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.render(document).decode())
    assert errors is None, errors


def test_the_image_is_the_subject_with_its_id_python_and_labels(document: dict[str, Any]) -> None:
    component = document["metadata"]["component"]
    assert (component["type"], component["name"], component["version"]) == (
        "container",
        "gemini-service",
        "sha-0123456",
    )
    properties = sbom.image_properties(document)
    assert properties[sbom_image.IMAGE_ID_PROPERTY] == sbom_samples.IMAGE_ID
    assert properties[sbom_image.PYTHON_PROPERTY] == "3.11.2"
    assert properties["org.opencontainers.image.version"] == "1.2.3"
    assert document["metadata"]["timestamp"] == "2026-01-02T03:04:05Z"  # the commit's time


def test_the_base_is_named_by_reference_and_digest(document: dict[str, Any]) -> None:
    (base,) = components(document, "container")
    assert base["name"] == "gemini-local/python"
    assert base["version"] == sbom_samples.BASE_ID  # a local stand-in: its image id
    assert base["hashes"] == [{"alg": "SHA-256", "content": "b" * 64}]
    reference = {p["name"]: p["value"] for p in base["properties"]}
    assert reference["gemini-service:base:reference"] == sbom_samples.BASE_REF


def test_a_pulled_base_carries_its_registry_digest_as_an_oci_purl() -> None:
    digest = "sha256:" + "c" * 64
    pulled = sbom_image.BaseImage(
        f"python:3.11-slim-bookworm@{digest}", sbom_samples.BASE_ID, f"python@{digest}"
    )
    component = sbom_image.base_component(pulled)
    assert (component["name"], component["version"]) == ("python", digest)
    assert component["purl"] == (
        f"pkg:oci/python@{digest}?repository_url=docker.io/library/python&tag=3.11-slim-bookworm"
    )


def test_debian_packages_come_from_dpkg_with_distro_purls(document: dict[str, Any]) -> None:
    (system,) = components(document, "operating-system")
    assert (system["name"], system["version"]) == ("debian", "12")
    debs = {c["name"]: c for c in components(document, "library") if c["bom-ref"][:4] == "deb:"}
    assert sorted(debs) == ["base-files", "libc6", "zlib1g"]  # not the deinstalled one
    assert debs["libc6"]["purl"] == (
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u13?arch=amd64&distro=debian-12&upstream=glibc"
    )


def test_the_dependency_graph_leads_from_the_image_to_every_component(
    document: dict[str, Any],
) -> None:
    graph = {entry["ref"]: entry.get("dependsOn", []) for entry in document["dependencies"]}
    reached, todo = set(), ["image"]
    while todo:
        ref = todo.pop()
        reached.add(ref)
        todo += [child for child in graph.get(ref, []) if child not in reached]
    assert reached == {"image"} | {c["bom-ref"] for c in document["components"]}
    assert graph["base-image"] == ["operating-system"]


def test_an_unreadable_dpkg_database_is_said_not_hidden(python_part: dict[str, Any]) -> None:
    bom = sbom.compose(python_part, facts(dpkg_status=None), name="x", tag="sha-1")
    (base,) = components(bom, "container")
    assert {
        "name": "gemini-service:debian-packages",
        "value": "/var/lib/dpkg/status unreadable",
    } in (base["properties"])
    assert not [c for c in bom["components"] if c["bom-ref"].startswith("deb:")]


def test_the_check_passes_for_the_lock_and_names_every_difference(
    document: dict[str, Any],
) -> None:
    sbom.check_python(document, installed(), what="x")
    broken = copy.deepcopy(document)
    pypi = [c for c in broken["components"] if c.get("purl", "").startswith("pkg:pypi/")]
    by_name = {c["name"]: c for c in pypi}
    broken["components"].remove(by_name["fastapi"])
    by_name["uvicorn"]["version"] = "0.0.1"
    by_name["idna"]["externalReferences"][0]["hashes"][0]["content"] = "0" * 64
    broken["components"].append({**by_name["h11"], "name": "left-pad", "bom-ref": "extra"})
    with pytest.raises(sbom.SbomError) as failure:
        sbom.check_python(broken, installed(), what="gemini-service:sha-0123456")
    message = str(failure.value)
    assert "missing fastapi==" in message
    assert "unexpected left-pad==" in message
    assert "uvicorn 0.0.1 (lock: " in message
    assert "idna " in message
    assert "other hashes" in message
    assert "invoke images.lock" in message  # says what to do


def test_an_sbom_made_elsewhere_is_checked_for_the_platform_it_declares(
    document: dict[str, Any],
) -> None:
    sbom.check_against_lock(document, LOCK_TEXT, what="x")
    anonymous = copy.deepcopy(document)
    anonymous["metadata"]["component"]["properties"] = []
    with pytest.raises(sbom.SbomError, match="does not say its image's Python"):
        sbom.check_against_lock(anonymous, LOCK_TEXT, what="x")


def test_rendering_is_stable_bytes(document: dict[str, Any]) -> None:
    assert sbom.render(document) == sbom.render(json.loads(sbom.render(document)))
    assert "serialNumber" not in document  # reproducible: no random id, no wall-clock time


def test_the_file_is_named_after_the_image_and_its_sha_tag(tmp_path: Path) -> None:
    assert sbom.sbom_path(tmp_path, "ns/gemini-service", "sha-abc1234") == (
        tmp_path / "build/sbom/gemini-service_sha-abc1234.cdx.json"
    )


def test_generate_reads_the_image_and_checks_against_the_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inspected = {"app:x": sbom_samples.image_inspect(), sbom_samples.BASE_REF: {"Id": "b"}}
    monkeypatch.setattr(docker_engine, "inspect_image", lambda c, ref: inspected.get(ref))
    monkeypatch.setattr(docker_engine, "read_image_files", sbom_samples.read_files())
    content = sbom.generate(object(), ROOT, "app:x", name="gemini-service", tag="sha-0123456")
    bom = json.loads(content)
    assert sbom.python_packages(bom).keys() == {p.name for p in installed()}
    assert content == sbom.generate(
        object(), ROOT, "app:x", name="gemini-service", tag="sha-0123456"
    )


def test_an_image_without_the_dockerfiles_venv_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_engine, "inspect_image", lambda c, ref: sbom_samples.image_inspect())
    monkeypatch.setattr(docker_engine, "read_image_files", sbom_samples.read_files({}))
    with pytest.raises(sbom.SbomError, match=r"pyvenv\.cfg"):
        sbom_image.read_facts(object(), "other:1")


def test_ensure_reuses_a_current_file_and_remakes_a_stale_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "containers").mkdir()
    (tmp_path / lockfile.LOCK).write_text(LOCK_TEXT)
    image = {"id": sbom_samples.IMAGE_ID}
    monkeypatch.setattr(
        docker_engine,
        "inspect_image",
        lambda c, ref: sbom_samples.image_inspect(image["id"]) if ref == "app:sha-1" else None,
    )
    monkeypatch.setattr(docker_engine, "read_image_files", sbom_samples.read_files())
    path = sbom.ensure(object(), tmp_path, "app:sha-1")
    assert sbom.described_image(path) == sbom_samples.IMAGE_ID
    path.write_bytes(path.read_bytes() + b" ")  # a current file is reused as it is
    assert sbom.ensure(object(), tmp_path, "app:sha-1").read_bytes().endswith(b" ")
    image["id"] = "sha256:" + "f" * 64  # the image was rebuilt: the file is remade
    assert sbom.described_image(sbom.ensure(object(), tmp_path, "app:sha-1")) == image["id"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_a_failing_generator_says_how_to_restore_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sbom.sys, "executable", "/bin/false")
    with pytest.raises(sbom.SbomError, match="uv sync --frozen"):
        sbom.python_bom("not-cached==1.0\n")
