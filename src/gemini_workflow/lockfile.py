"""The two locks: uv.lock (every tool and dependency) and the image's requirements.lock.

uv.lock pins everything the project installs anywhere: the runtime dependencies, the
developer's tools (pip and uv among them) and the test and lint groups. The image does not
need uv: `containers/requirements.lock` is uv.lock's runtime part exported with hashes, which
the Dockerfile installs with plain pip. Both are checked without network or resolver: uv
knows whether uv.lock still satisfies pyproject.toml, and the export is compared as text.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gemini_workflow.errors import WorkflowError

LOCK = Path("containers/requirements.lock")
UV_LOCK = Path("uv.lock")
HEADER = (
    "# The image's runtime dependencies: uv.lock's export by `invoke images.lock`. Do not edit.\n"
    "# `invoke build` refuses to build when this file and uv.lock disagree.\n"
)
# Runtime dependencies only: no dependency group, not the project itself (built apart).
EXPORT_ARGS = (
    "export",
    "--frozen",
    "--no-default-groups",
    "--no-emit-project",
    "--no-header",
    "--format",
    "requirements.txt",
)


class LockError(WorkflowError):
    """A lock is stale or cannot be produced; the message names the command that fixes it."""


def uv(*args: str) -> list[str]:
    """uv from the environment running the workflow (uv.lock pins it), never one on PATH."""
    return [sys.executable, "-m", "uv", *args]


def lock_command(*, upgrade: bool = False) -> list[str]:
    """`uv lock`: resolve pyproject.toml into uv.lock (keeping pins unless upgrading)."""
    return uv("lock", *(["--upgrade"] if upgrade else []))


def exported(root: Path) -> str:
    """The image lock as uv.lock says it should read, header included."""
    result = _run_uv(root, *EXPORT_ARGS)
    if result.returncode != 0:
        raise LockError(f"uv export failed: {_tail(result)}; run `invoke images.lock`")
    return HEADER + result.stdout


def write_image_lock(root: Path) -> Path:
    path = root / LOCK
    path.write_text(exported(root), encoding="utf-8")
    return path


def check(root: Path) -> None:
    """Fail unless uv.lock satisfies pyproject.toml and the image lock is its export."""
    result = _run_uv(root, "lock", "--check", "--offline")
    if result.returncode != 0:
        raise LockError(
            f"{UV_LOCK} is older than pyproject.toml ({_tail(result)}): run `invoke images.lock`"
            " and commit both locks"
        )
    lock = root / LOCK
    if not lock.is_file() or lock.read_text(encoding="utf-8") != exported(root):
        raise LockError(
            f"{LOCK} is not the export of {UV_LOCK}: run `invoke images.lock` and commit it"
        )


def _run_uv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(uv(*args), cwd=root, capture_output=True, text=True, check=False)


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {result.returncode}"
