"""Driving `invoke dev` from outside, as a developer does: start it, save an edit, see it, stop.

The smoke test and the bench both use this module, so they measure edit-to-served the same
way: `invoke dev` runs in a copy of the tree (the working tree is never edited), the edit
changes what /health answers, and the clock stops at the first answer through the proxy
that carries it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gemini_workflow import wait
from gemini_workflow.dev import READY
from gemini_workflow.errors import WorkflowError

EDITED: Final = Path("src/gemini_service/schemas.py")
HEALTH_DEFAULT: Final = re.compile(r'(status: Literal\[)"[^"]*"(\] = )"[^"]*"')
"""HealthResponse's one field: its value is what /health answers as `status`."""
LOCAL_CONFIG: Final = ("invoke.yaml",)
"""Git-ignored, written by `invoke bootstrap` (offline stand-ins): the copy needs it too."""
HIDDEN: Final = ("GEMINI_API_KEY", "GEMINI_API_KEY_FILE")
"""Never the real API from a test or the bench."""


def copy_tree(root: Path, destination: Path) -> None:
    """A git clone of `root`'s HEAD, with the working tree's changes and local config on top.

    A clone, because `invoke dev` reads the git state (image tags); the working tree's
    files on top, because the images under test were built from them.
    """
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(root), str(destination)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for name in [*filter(None, listed.split("\0")), *LOCAL_CONFIG]:
        if (root / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, destination / name)


def mark_health(tree: Path, marker: str) -> None:
    """Make /health answer `{"status": marker}`: a one-line edit, as a developer saves it."""
    path = tree / EDITED
    text = path.read_text(encoding="utf-8")
    edited, count = HEALTH_DEFAULT.subn(rf'\1"{marker}"\2"{marker}"', text)
    if count != 1:
        raise WorkflowError(
            f"{EDITED} no longer has HealthResponse's `status: Literal[...] = ...` line: "
            "update HEALTH_DEFAULT in gemini_workflow/dev_drive.py to a visible one-line edit"
        )
    path.write_text(edited, encoding="utf-8")


def health_status(url: str, timeout: float = 2.0) -> str | None:
    """The `status` /health answers through `url` (None when the answer has none)."""
    with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:  # noqa: S310
        body = json.loads(response.read())
    return body.get("status") if isinstance(body, dict) else None


def edit_to_served(tree: Path, url: str, marker: str, *, timeout: float = 30.0) -> float:
    """Save the edit, then poll until it is served; the seconds in between."""
    started = time.monotonic()
    mark_health(tree, marker)
    wait_served(url, marker, timeout=timeout)
    return time.monotonic() - started


def wait_served(url: str, marker: str, *, timeout: float) -> None:
    """Poll /health through `url` every 50 ms until it answers `marker`.

    While the app restarts, nginx answers 502 and the connection may reset: not yet.
    """
    wait.until(
        lambda: health_status(url) == marker,
        timeout=timeout,
        interval=0.05,
        what=f"/health answering {marker!r} through {url}",
        retry_on=(OSError, ValueError),
    )


@dataclass
class DevProcess:
    """`invoke dev` running in a tree, its output going to a file (never a full pipe)."""

    process: subprocess.Popen[str]
    log: Path
    url: str
    project: str

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Until it says it is watching (a save is picked up from then on); the seconds."""

        def ready() -> bool:
            if self.process.poll() is not None:
                raise WorkflowError(
                    f"invoke dev exited ({self.process.returncode}) before it was ready:\n"
                    + self.output()[-3000:]
                )
            return READY in self.output()

        return wait.until(ready, timeout=timeout, interval=0.1, what="invoke dev watching")

    def stop(self, signum: int = signal.SIGINT, timeout: float = 120.0) -> int:
        """Send `signum` (Ctrl-C by default) and wait for the exit code."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise WorkflowError(f"invoke dev did not stop within {timeout:g} s") from None

    def kill(self) -> None:
        """Last resort after a failure: the caller removes the project's stack itself."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start(
    tree: Path, *, project: str, port: int, app_image: str, fake_image: str, log: Path
) -> DevProcess:
    """`invoke dev --no-build` in `tree`, under `project` on `port`, with the given images.

    The images are pinned through invoke's variables: the copy's default tags follow its
    own git state, and nothing should be built again here.
    """
    env = {key: value for key, value in os.environ.items() if key not in HIDDEN}
    env |= {
        "INVOKE_STACK_PROJECT": project,
        "INVOKE_STACK_APP_IMAGE": app_image,
        "INVOKE_STACK_FAKE_IMAGE": fake_image,
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "invoke", "dev", "--no-build", "--port", str(port)]
    with log.open("w", encoding="utf-8") as sink:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command, cwd=tree, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True
        )
    return DevProcess(process, log, f"http://127.0.0.1:{port}", project)
