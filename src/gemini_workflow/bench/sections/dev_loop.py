"""Row (8): `invoke dev`, a saved edit to the first answer that carries it, next to build + up.

`invoke dev` runs as a person runs it, driven by gemini_workflow.dev_drive exactly as the smoke
test drives it: in a copy of the tree, on this run's images, under this run's project name.
Each edit changes what /health answers; the clock stops at the first answer through the
proxy that carries it.

The reference is the loop `invoke dev` replaces: the same edit, a warm build of the app image
(`invoke build`'s command line, without its checks and SBOM, so the reference is if anything
too fast), then `invoke up`'s start, which recreates only gemini-app, until the proxy serves
the edit. Compose's `up` time alone would leave out the build the loop exists to avoid.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Final

from gemini_workflow import config, dev_drive, docker_engine
from gemini_workflow.bench.building import BuildSetup, build, build_setup, stack_images
from gemini_workflow.bench.report import Report, Stats, at_most, figure
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.compose import ComposeProject
from gemini_workflow.dev import dev_image
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port
from gemini_workflow.stack import Images
from gemini_workflow.wheelhouse import WHEELHOUSE

MIN_RUNS: Final = 3
"""An edit time is noisy: never fewer edits than this."""
SERVED_WITHIN: Final = 120.0
"""Seconds one edit may take to be served (the reference includes a build)."""


def dev_edits(run: BenchRun, tree: Path, images: Images, edits: int) -> list[float]:
    """Start `invoke dev` in `tree`, time `edits` saved edits, stop it with Ctrl-C."""
    project = f"gs-bench-{run.id}-dev"
    process = dev_drive.start(
        tree,
        project=project,
        port=free_port(),
        app_image=images.app,
        fake_image=images.fake,
        log=run.workdir / "invoke-dev.log",
    )
    try:
        process.wait_ready()
        seconds = []
        for n in range(edits):
            run.console.print(f"invoke dev: saved edit -> served, edit {n + 1}/{edits}")
            marker = f"bench-{run.id}-dev{n}"
            seconds.append(dev_drive.edit_to_served(tree, process.url, marker))
        code = process.stop()
        if code != 0:
            raise WorkflowError(f"invoke dev exited {code} on Ctrl-C:\n{process.output()[-2000:]}")
        return seconds
    finally:  # after a failure: what `invoke dev` may have left
        process.kill()
        ComposeProject(project, root=tree).down(timeout=5)
        name = str(config.load(run.root)["image"]["name"])
        docker_engine.remove_image(run.client, dev_image(name, project))


def rebuild_edits(
    run: BenchRun, setup: BuildSetup, tree: Path, images: Images, edits: int
) -> list[float]:
    """The same edits without `invoke dev`: build the app, bring the stack up to date."""
    seconds = []
    with run.stack("devref", images, {}) as running:
        for n in range(edits):
            run.console.print(f"build + up: saved edit -> served, edit {n + 1}/{edits}")
            marker = f"bench-{run.id}-ref{n}"
            tag = run.tag(f"devref{n}")
            started = time.monotonic()
            dev_drive.mark_health(tree, marker)
            build(setup, tree, tag=tag, target="app")
            plan = dataclasses.replace(running.plan, images=dataclasses.replace(images, app=tag))
            run.start_stack(plan)
            dev_drive.wait_served(plan.url, marker, timeout=SERVED_WITHIN)
            seconds.append(time.monotonic() - started)
    return seconds


def measure(run: BenchRun, report: Report) -> None:
    """`invoke dev`: a saved source edit to the answer through the proxy, next to build + up."""
    setup = build_setup(run.root)
    images = stack_images(run, setup)
    tree = run.workdir / "dev-tree"
    dev_drive.copy_tree(run.root, tree)
    if (run.root / WHEELHOUSE).is_dir():  # the reference builds offline from the copy
        shutil.copytree(run.root / WHEELHOUSE, tree / WHEELHOUSE)
    edits = max(run.options.runs, MIN_RUNS)
    loop = dev_edits(run, tree, images, edits)
    reference = rebuild_edits(run, setup, tree, images, edits)
    report.add(
        figure(
            "dev_edit_to_served",
            "(8) invoke dev: saved edit -> served",
            "s",
            Stats.of(loop),
            Stats.of(reference),
            "build + up",
            "< 3 s median",
            at_most(3.0),
            note="through the proxy; sync + restart of gemini-app vs a warm image build and"
            " its recreation",
        )
    )
