"""What the SBOM tests read "from an image": files and inspect data, without an engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gemini_workflow import lockfile, sbom_image

ROOT = Path(__file__).resolve().parents[2]
LOCK_TEXT = (ROOT / lockfile.LOCK).read_text()
ENVIRONMENT = sbom_image.marker_environment("3.11.2", "amd64")

VENV_CONFIG = b"""home = /usr/bin
include-system-site-packages = false
version = 3.11.2
executable = /usr/bin/python3.11
command = /usr/bin/python3 -m venv /opt/venv
"""
DPKG_STATUS = b"""Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u13
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u13
"""
OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
"""
FILES: dict[str, bytes | None] = {
    sbom_image.VENV_CONFIG: VENV_CONFIG,
    sbom_image.DPKG_STATUS: DPKG_STATUS,
    sbom_image.OS_RELEASE: OS_RELEASE,
}
IMAGE_ID = "sha256:" + "a" * 64
BASE_ID = "sha256:" + "b" * 64
BASE_REF = "gemini-local/python:3.11-slim-bookworm"
LABELS = {
    "org.opencontainers.image.version": "1.2.3",
    "org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
    "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
    "org.opencontainers.image.base.name": BASE_REF,
}


def image_inspect(image_id: str = IMAGE_ID) -> dict[str, Any]:
    return {"Id": image_id, "Architecture": "amd64", "Config": {"Labels": dict(LABELS)}}


def read_files(
    files: dict[str, bytes | None] | None = None,
) -> Any:
    """A stand-in for docker_engine.read_image_files serving these files."""
    served = FILES if files is None else files

    def read(client: Any, ref: str, paths: Sequence[str]) -> dict[str, bytes | None]:
        return {path: served.get(path) for path in paths}

    return read


def facts(**changes: Any) -> sbom_image.ImageFacts:
    """The sample image: Python 3.11.2 on amd64, a local stand-in base, three Debian packages."""
    values: dict[str, Any] = {
        "image_id": IMAGE_ID,
        "architecture": "amd64",
        "labels": LABELS,
        "python_version": "3.11.2",
        "base": sbom_image.BaseImage(BASE_REF, BASE_ID),
        "dpkg_status": DPKG_STATUS.decode(),
        "os_release": OS_RELEASE.decode(),
    }
    return sbom_image.ImageFacts(**{**values, **changes})
