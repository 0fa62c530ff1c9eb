"""The hash-locked runtime dependencies the image installs (containers/requirements.lock).

The lock is compiled from pyproject.toml by uv and stamped with a digest of the inputs it
was compiled from, so a build can tell cheaply (no network, no resolver) that pyproject's
dependencies changed since the last `invoke lock`.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

LOCK = Path("containers/requirements.lock")
STAMP = "# inputs-sha256: "
# The image runs on glibc x86_64; the lock still carries every wheel's hash (arm64 too).
PLATFORM = "x86_64-manylinux_2_28"


def inputs_digest(pyproject: Path) -> str:
    """A digest of exactly what the lock depends on: runtime dependencies and Python range."""
    project = tomllib.loads(pyproject.read_text())["project"]
    inputs = {
        "dependencies": sorted(project.get("dependencies", [])),
        "requires-python": project.get("requires-python", ""),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def compile_command(
    pyproject: Path, lock: Path, python_version: str, *, upgrade: bool = False
) -> list[str]:
    """`uv pip compile` for runtime dependencies only, with every artifact's hash."""
    cmd = [sys.executable, "-m", "uv", "pip", "compile", str(pyproject)]
    cmd += ["--generate-hashes", "--python-version", python_version]
    cmd += ["--python-platform", PLATFORM, "--custom-compile-command", "invoke lock"]
    cmd += ["--quiet", "--output-file", str(lock)]
    if upgrade:
        cmd.append("--upgrade")
    return cmd


def stamp(lock: Path, digest: str) -> None:
    """Record the inputs digest as the lock's first line (replacing an older stamp)."""
    lines = [line for line in lock.read_text().splitlines() if not line.startswith(STAMP)]
    lock.write_text("\n".join([STAMP + digest, *lines]) + "\n")


def recorded_digest(lock: Path) -> str | None:
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(STAMP):
            return line.removeprefix(STAMP).strip()
    return None


def is_current(lock: Path, pyproject: Path) -> bool:
    """True when the lock was compiled from pyproject's current runtime dependencies."""
    return recorded_digest(lock) == inputs_digest(pyproject)
