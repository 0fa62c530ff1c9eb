"""Building images the way `invoke build` does, in a copy of the tree when a build needs an edit.

The build arguments and base images come from the project config (config.load, images.py),
and each build is `docker_engine.build` with `invoke build`'s command line, timed alone (the
tools are checked once, before any timing). An edit for a rebuild is made in a temporary copy
of the build context: the working tree is never touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gemini_workflow import config, docker_engine, images
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.stack import Images
from gemini_workflow.wheelhouse import WHEELHOUSE

DOCKERFILE: Final = images.DOCKERFILE
NAIVE_DOCKERFILE: Final = Path("containers/bench/naive.Dockerfile")
"""The reference: a naive single-stage build of the same app (see the file's header)."""
NAIVE_INDEX_OPTIONS: Final = "--no-index --find-links /app/build/wheelhouse"
"""Offline, the naive build installs from the wheelhouse its `COPY . .` brought in."""
EDITED_SOURCE: Final = Path("src/gemini_service/__init__.py")


@dataclass(frozen=True)
class BuildSetup:
    """How this host builds: base images and the offline arguments `invoke bootstrap` chose."""

    python_base: str
    proxy_image: str
    args: dict[str, str]
    offline: bool


def build_setup(root: Path = config.ROOT) -> BuildSetup:
    """The base images and build arguments `invoke build` would use; the build tools checked."""
    docker_engine.require_buildx()
    settings = config.load(root)
    request = images.request_from_config(settings, root=root)
    args = request.build_args(images.read_source_info(root))
    return BuildSetup(
        python_base=request.python_base,
        proxy_image=str(settings["images"]["nginx"]),
        args=args,
        offline=request.offline,
    )


def copy_context(root: Path, destination: Path) -> None:
    """Copy the build context (tracked and new files, plus the wheelhouse) for safe edits."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if (root / WHEELHOUSE).is_dir():
        shutil.copytree(root / WHEELHOUSE, destination / WHEELHOUSE)


def edit_source(context: Path, marker: str) -> None:
    """A source-only edit: what a developer's one-line change does to the build."""
    path = context / EDITED_SOURCE
    path.write_text(path.read_text() + f"\n# bench edit {marker}\n")


def build(
    setup: BuildSetup,
    context: Path,
    *,
    tag: str,
    dockerfile: Path = DOCKERFILE,
    target: str = "app",
    no_cache: bool = False,
    extra_args: dict[str, str] | None = None,
) -> float:
    """Build one image with `invoke build`'s exact command line; return wall-clock seconds."""
    spec = docker_engine.BuildSpec(
        context=context,
        dockerfile=context / dockerfile,
        target=target,
        tags=[tag],
        build_args={**setup.args, **(extra_args or {})},
        no_cache=no_cache,
        network="none" if setup.offline else None,
    )
    started = time.perf_counter()
    docker_engine.build(spec, quiet=True)
    return time.perf_counter() - started


def build_naive(setup: BuildSetup, context: Path, *, tag: str, no_cache: bool = False) -> float:
    """The reference build: same base, same wheels, same offline rules, naive Dockerfile."""
    return build(
        setup,
        context,
        tag=tag,
        dockerfile=NAIVE_DOCKERFILE,
        target="naive",
        no_cache=no_cache,
        extra_args={"INDEX_OPTIONS": NAIVE_INDEX_OPTIONS} if setup.offline else {},
    )


def stack_images(run: BenchRun, setup: BuildSetup) -> Images:
    """App and fake images of the current tree (a cached build), tagged for this run only.

    Built once per run: the tags carry the run id, so an existing one was built by this run.
    """
    built = Images(app=run.tag("app"), fake=run.tag("fake"), proxy=setup.proxy_image)
    for tag, target in ((built.app, "app"), (built.fake, "fake")):
        if docker_engine.inspect_image(run.client, tag) is None:
            build(setup, run.root, tag=tag, target=target)
    return built
