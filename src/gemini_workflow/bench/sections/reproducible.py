"""Issue 14: what reproducible images cost, in build time and in cold start.

The app image built `--no-cache` from a fresh clone of the commit (what `invoke build
--verify-reproducible` does), next to the same build of the working tree, and whether the two
image IDs are the same (they must be: that is the proof). Bytecode is where the mechanism
could cost at run time: the image ships unchecked-hash .pyc, which Python does not check
against the sources at import. So the reference for the cold start is an image of the same
app without any bytecode, made from a throwaway Dockerfile in the run's scratch directory
(never a build argument of the real one), each started with `docker run` as in `startup`.
"""

from __future__ import annotations

from typing import Final

from gemini_workflow import docker_engine, images
from gemini_workflow.bench.building import BuildSetup, build, build_setup, stack_images
from gemini_workflow.bench.report import YES_NO, Report, Stats, figure, is_yes
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.sections import startup
from gemini_workflow.reproducible import fresh_clone

NO_BYTECODE: Final = """\
FROM {app} AS no-bytecode
USER root
RUN find /opt/venv -name '*.pyc' -delete \\
    && find /opt/venv -depth -type d -name __pycache__ -empty -delete
USER 10001:10001
"""
"""The app with every .pyc of its venv removed; Python compiles each module at every start."""


def clean_builds(run: BenchRun, setup: BuildSetup) -> tuple[float, float, str, str]:
    """Seconds of a --no-cache build of the tree and of a fresh clone, and their image IDs."""
    revision = images.read_source_info(run.root).revision
    tree, clone_tag = run.tag("repro-tree"), run.tag("repro-clone")
    run.console.print("--no-cache build of the working tree")
    tree_s = build(setup, run.root, tag=tree, no_cache=True)
    run.console.print(f"--no-cache build of a fresh clone of {revision[:7]}")
    with fresh_clone(run.root, revision) as clone:
        clone_s = build(setup, clone, tag=clone_tag, no_cache=True)
    return tree_s, clone_s, image_id(run, tree), image_id(run, clone_tag)


def image_id(run: BenchRun, ref: str) -> str:
    found = docker_engine.inspect_image(run.client, ref)
    return str((found or {}).get("Id", ""))


def without_bytecode(run: BenchRun, app: str) -> str:
    """The variant image, built from a Dockerfile in the scratch directory."""
    context = run.workdir / "no-bytecode"
    context.mkdir(exist_ok=True)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(NO_BYTECODE.format(app=app))
    tag = run.tag("no-bytecode")
    spec = docker_engine.BuildSpec(context, dockerfile, "no-bytecode", [tag], network="none")
    docker_engine.build(spec, quiet=True)
    return tag


def cold_starts(run: BenchRun, app: str, variant: str, network: str) -> tuple[list[float], ...]:
    """`docker run` -> first 200 /health of the app and the variant, interleaved."""
    shipped: list[float] = []
    bare: list[float] = []
    runs = max(run.options.runs, startup.MIN_RUNS)
    for n in range(runs):
        run.console.print(f"docker run -> /health, with and without bytecode, {n + 1}/{runs}")
        shipped.append(startup.time_to_first_200(run, f"pyc{n}", app, network=network))
        bare.append(startup.time_to_first_200(run, f"nopyc{n}", variant, network=network))
    return shipped, bare


def measure(run: BenchRun, report: Report) -> None:
    """--no-cache builds of a fresh clone and of the tree; the same ID; bytecode at start."""
    setup = build_setup(run.root)
    tree_s, clone_s, tree_id, clone_id = clean_builds(run, setup)
    built = stack_images(run, setup)
    network = startup.fake_network(run, built.fake)
    shipped, bare = cold_starts(run, built.app, without_bytecode(run, built.app), network)
    add_figures(report, (tree_s, clone_s), (tree_id, clone_id), shipped, bare)


def add_figures(
    report: Report,
    seconds: tuple[float, float],
    ids: tuple[str, str],
    shipped: list[float],
    bare: list[float],
) -> None:
    """`seconds` and `ids`: of the tree's build, then of the clone's."""
    (tree_s, clone_s), (tree_id, clone_id) = seconds, ids
    same = bool(tree_id) and tree_id == clone_id
    shown = tree_id[:19] if same else f"tree {tree_id[:19]}, clone {clone_id[:19]}"
    report.add(
        figure(
            "reproducible_clone_build",
            "(14) --no-cache build of a fresh clone",
            "s",
            Stats.of([clone_s]),
            Stats.of([tree_s]),
            "same build of the tree",
            "(reported)",
            note="one build each; `startup` has the image's cold start",
        )
    )
    report.add(
        figure(
            "reproducible_same_id",
            "(14) the clone's image ID is the tree's",
            YES_NO,
            Stats.of([1.0 if same else 0.0]),
            None,
            "",
            "yes",
            is_yes(),
            note=shown,
        )
    )
    report.add(
        figure(
            "cold_start_without_bytecode",
            "(14) docker run -> /health, image without .pyc",
            "s",
            Stats.of(bare),
            Stats.of(shipped),
            "the image (unchecked-hash .pyc)",
            "(reported)",
            note="the cost of shipping no bytecode instead of deterministic bytecode",
        )
    )
