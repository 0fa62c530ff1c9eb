"""The two locks: uv.lock (every tool and dependency) and the image's requirements.lock.

uv.lock pins everything the project installs anywhere: the runtime dependencies, the
developer's tools (pip and uv among them) and the test and lint groups. The image does not
need uv: `containers/requirements.lock` is uv.lock's runtime part exported with hashes, which
the Dockerfile installs with plain pip. Both are checked without network or resolver: uv
knows whether uv.lock still satisfies pyproject.toml, and the export is compared as text.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from gemini_workflow.errors import WorkflowError

LOCK = Path("containers/requirements.lock")
BUILD_LOCK = Path("containers/build.lock")
UV_LOCK = Path("uv.lock")
HEADER = (
    "# {what}: uv.lock's export by `invoke images.lock`. Do not edit.\n"
    "# `invoke build` refuses to build when this file and uv.lock disagree.\n"
)
_EXPORT = ("export", "--frozen", "--no-emit-project", "--no-header", "--format", "requirements.txt")
# The two files the image build installs with `pip --require-hashes`: the runtime dependencies
# (no dependency group, not the project itself, which is built apart), and the build backend
# the project is built with (the `image-build` group), so neither moves with PyPI.
IMAGE_LOCKS: dict[Path, tuple[str, tuple[str, ...]]] = {
    LOCK: ("The image's runtime dependencies", ("--no-default-groups",)),
    BUILD_LOCK: (
        "The build backend the image builds the project with",
        ("--only-group", "image-build"),
    ),
}


class LockError(WorkflowError):
    """A lock is stale or cannot be produced; the message names the command that fixes it."""


def uv(*args: str) -> list[str]:
    """uv from the environment running the workflow (uv.lock pins it), never one on PATH."""
    return [sys.executable, "-m", "uv", *args]


def lock_command(*, upgrade: bool = False) -> list[str]:
    """`uv lock`: resolve pyproject.toml into uv.lock (keeping pins unless upgrading)."""
    return uv("lock", *(["--upgrade"] if upgrade else []))


def exported(root: Path, lock: Path = LOCK) -> str:
    """An image lock as uv.lock says it should read, header included."""
    what, selection = IMAGE_LOCKS[lock]
    result = _run_uv(root, *_EXPORT, *selection)
    if result.returncode != 0:
        raise LockError(f"uv export failed: {_tail(result)}; run `invoke images.lock`")
    return HEADER.format(what=what) + result.stdout


def write_image_locks(root: Path) -> list[Path]:
    for lock in IMAGE_LOCKS:
        (root / lock).write_text(exported(root, lock), encoding="utf-8")
    return list(IMAGE_LOCKS)


def check(root: Path) -> None:
    """Fail unless uv.lock satisfies pyproject.toml and both image locks are its exports."""
    result = _run_uv(root, "lock", "--check", "--offline")
    if result.returncode != 0:
        raise LockError(
            f"{UV_LOCK} is older than pyproject.toml ({_tail(result)}): run `invoke images.lock`"
            " and commit both locks"
        )
    for lock in IMAGE_LOCKS:
        path = root / lock
        if not path.is_file() or path.read_text(encoding="utf-8") != exported(root, lock):
            raise LockError(
                f"{lock} is not the export of {UV_LOCK}: run `invoke images.lock` and commit it"
            )


def _run_uv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(uv(*args), cwd=root, capture_output=True, text=True, check=False)


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {result.returncode}"


# --- what the image lock pins -------------------------------------------------------------

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)\s*(?:;(?P<marker>.*?))?(?=\s--|$)"
)


@dataclass(frozen=True)
class LockedPackage:
    """One entry of the image lock: a pin, its hashes, its marker and where it is written."""

    name: str  # normalised (PEP 503), as SBOMs and package URLs spell it
    version: str
    hashes: tuple[str, ...]
    marker: str | None
    first_line: int  # 1-based, the pin's line
    last_line: int  # its last continuation line

    def applies(self, environment: Mapping[str, str]) -> bool:
        """Whether pip installs this entry on a platform with these marker values."""
        return self.marker is None or Marker(self.marker).evaluate(dict(environment))


def locked_packages(text: str) -> list[LockedPackage]:
    """Every pin of a `uv export --format requirements.txt` lock, with its line span."""
    found: list[LockedPackage] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start = index
        logical = lines[index]
        while logical.endswith("\\") and index + 1 < len(lines):
            index += 1
            logical = logical[:-1] + " " + lines[index].strip()
        index += 1
        match = _PIN.match(logical)
        if match is None:
            continue
        found.append(
            LockedPackage(
                name=canonicalize_name(match["name"]),
                version=match["version"],
                hashes=tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", logical)),
                marker=(match["marker"] or "").strip() or None,
                first_line=start + 1,
                last_line=index,
            )
        )
    return found
