"""The interpreter the host figures run on: a venv with the image's runtime lock and no more.

The project's own .venv also holds the dev and lint tools, and google-generativeai: more files
on sys.path, more to import at startup. The image holds only containers/requirements.lock and
the project, byte-compiled. So the service and its reference programs run on a venv made the
same way, in the run's scratch directory (removed with it): the lock installed hash-checked
(from the wheelhouse when the host builds offline), then the project without dependencies,
all byte-compiled as the image is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Final

from gemini_workflow import config
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.errors import WorkflowError

LOCK: Final = Path("containers/requirements.lock")
WHEELHOUSE: Final = Path("build/wheelhouse")
VENV: Final = "runtime-venv"


def index_options(root: Path, offline: bool) -> list[str]:
    """Where wheels come from: the wheelhouse `invoke bootstrap` filled, or the index."""
    if not offline:
        return []
    wheels = root / WHEELHOUSE
    if not wheels.is_dir():
        raise WorkflowError(f"offline but {wheels} is missing: run `invoke bootstrap`")
    return ["--no-index", "--find-links", str(wheels)]


def install_commands(root: Path, venv: Path, offline: bool) -> list[list[str]]:
    """The venv, the locked dependencies, then the project alone (`--no-deps`).

    uv is the pinned one of the environment running the bench (`python -m uv`); `--no-cache`
    so nothing lands outside the scratch directory.
    """
    uv = [sys.executable, "-m", "uv"]
    install = [*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    install += ["--no-cache", "--compile-bytecode", "--no-deps", *index_options(root, offline)]
    return [
        [*uv, "venv", "--quiet", "--no-cache", "--python", sys.executable, str(venv)],
        [*install, "--require-hashes", "-r", str(root / LOCK)],
        [*install, str(root)],
    ]


def python(run: BenchRun) -> Path:
    """The runtime venv's interpreter, created on first use in this run."""
    venv = run.workdir / VENV
    interpreter = venv / "bin" / "python"
    if interpreter.exists():
        return interpreter
    offline = bool(config.load(run.root).get("offline", False))
    run.console.print("runtime venv: the image's lock and the project, byte-compiled")
    for command in install_commands(run.root, venv, offline):
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            raise WorkflowError(
                f"building the runtime venv failed: `{' '.join(command[3:6])}`:\n"
                f"{done.stderr.strip()[-1500:]}"
            )
    return interpreter
