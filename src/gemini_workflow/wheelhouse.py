"""The offline wheelhouse: every wheel the image build installs, downloaded on the host.

Containers on an offline host cannot reach PyPI, so `invoke bootstrap` downloads the locked
wheels here and the build installs them with `--no-index` (build/wheelhouse is the one part
of build/ that the .dockerignore lets through). A stamp of the inputs tells `invoke build`
cheaply whether the wheelhouse still matches the lock.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import sys
from pathlib import Path

from invoke.context import Context

from gemini_workflow import lockfile

WHEELHOUSE = Path("build/wheelhouse")
STAMP = WHEELHOUSE.with_name("wheelhouse.sha256")
# Wheels for the image's glibc (bookworm: 2.36); pip does not widen a --platform by itself.
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)


def digest(root: Path, python_version: str) -> str:
    locks = [(root / lock).read_text() for lock in lockfile.IMAGE_LOCKS]
    return hashlib.sha256("\n".join([python_version, *PLATFORMS, *locks]).encode()).hexdigest()


def is_current(root: Path, python_version: str) -> bool:
    """True when the wheelhouse was filled from the current lock (offline builds need that)."""
    stamp = root / STAMP
    return (
        stamp.exists()
        and stamp.read_text().strip() == digest(root, python_version)
        and any((root / WHEELHOUSE).glob("*.whl"))
    )


def download_commands(root: Path, python_version: str, python: str) -> list[str]:
    """pip download of each image lock (runtime, then build backend) for the image's platform.

    `--no-deps`: the locks are complete, so pip need not (and must not) resolve again.
    Resolving would also fail with the pip that `python3 -m venv` bundles (23.x), which
    rejects a dependency asking for an extra (google-auth[requests]) in hash-checking mode.
    """
    common = [
        f"{shlex.quote(python)} -m pip download --quiet --disable-pip-version-check",
        "--only-binary=:all:",
        *(f"--platform {platform}" for platform in PLATFORMS),
        f"--python-version {python_version} --implementation cp",
        f"--dest {shlex.quote(str(root / WHEELHOUSE))}",
    ]
    return [
        " ".join([*common, "--no-deps --require-hashes -r", shlex.quote(str(root / lock))])
        for lock in lockfile.IMAGE_LOCKS
    ]


def fill(c: Context, root: Path, python_version: str, python: str = sys.executable) -> int:
    """Download every wheel afresh (no stale wheel from an older lock); returns their count."""
    wheelhouse = root / WHEELHOUSE
    shutil.rmtree(wheelhouse, ignore_errors=True)
    wheelhouse.mkdir(parents=True)
    (root / STAMP).unlink(missing_ok=True)
    for command in download_commands(root, python_version, python):
        c.run(command, hide=True)
    (root / STAMP).write_text(digest(root, python_version) + "\n")
    return len(list(wheelhouse.glob("*.whl")))
