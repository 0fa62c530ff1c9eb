"""Two clones of one commit, with different file dates, build the same images without cache.

The proof a user can repeat: same commit, base digest, locks and build arguments give the
same image ID for both targets. Clone B's files are dated 2001, clone A's now; both build
with --no-cache under throwaway names, which are removed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import config, images, reproducible

ROOT = Path(__file__).resolve().parents[2]
OLD = time.mktime((2001, 1, 1, 0, 0, 0, 0, 0, -1))

pytestmark = pytest.mark.engine


def age(tree: Path) -> None:
    """Date every file and directory of the clone (not its .git) to 2001."""
    for path in tree.rglob("*"):
        if ".git" not in path.relative_to(tree).parts:
            os.utime(path, (OLD, OLD), follow_symlinks=False)


def test_two_clones_with_different_file_dates_build_identical_images(engine: Any) -> None:
    request = images.request_from_config(config.load(), root=ROOT, quiet=True)
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with ExitStack() as stack:
        clone_a = stack.enter_context(reproducible.fresh_clone(ROOT, revision))
        clone_b = stack.enter_context(reproducible.fresh_clone(ROOT, revision))
        age(clone_b)
        assert (clone_b / "pyproject.toml").stat().st_mtime == OLD
        built_a = stack.enter_context(reproducible.rebuilt(request, clone_a, engine))
        built_b = stack.enter_context(reproducible.rebuilt(request, clone_b, engine))

        results = reproducible.compare(engine, built_a, built_b)

        assert {result.target for result in results} == {"app", "fake"}
        differing = [reproducible.explain(engine, r) for r in results if not r.same]
        assert not differing, "\n".join(differing)
        for result in results:
            print(f"\n{result.target}: {result.original_id} in both clones")
