"""Rows (1)-(3): image size and layers over the base, bytes a source edit changes, rebuild time.

Measured on builds of a temporary copy of the tree, next to the naive reference build
(containers/bench/naive.Dockerfile) made the same way: same base, wheels, offline rules.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gemini_workflow.bench import layers
from gemini_workflow.bench.building import (
    NAIVE_DOCKERFILE,
    build,
    build_naive,
    build_setup,
    copy_context,
    edit_source,
)
from gemini_workflow.bench.report import (
    MB,
    Report,
    Stats,
    at_most,
    at_most_share,
    figure,
)
from gemini_workflow.bench.run import BenchRun


def measure(run: BenchRun, report: Report) -> None:
    """Size, layers, bytes changed by a source edit, and warm vs cold build time."""
    setup = build_setup(run.root)
    runs = run.options.runs
    base_size = layers.image_size(run.client, setup.python_base)
    base_layers = len(layers.layer_ids(run.client, setup.python_base))
    cold: list[float] = []
    warm: list[float] = []
    pushed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="context-", dir=run.workdir) as tmp:
        context = Path(tmp)
        copy_context(run.root, context)
        if not (context / NAIVE_DOCKERFILE).is_file():  # not yet committed or listed
            (context / NAIVE_DOCKERFILE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run.root / NAIVE_DOCKERFILE, context / NAIVE_DOCKERFILE)
        previous = ""
        for n in range(runs):
            tag = run.tag(f"cold{n}")
            run.console.print(f"cold build {n + 1}/{runs} (--no-cache)")
            cold.append(build(setup, context, tag=tag, no_cache=True))
            previous = tag
        for n in range(runs):
            edit_source(context, f"{run.id}-{n}")
            tag = run.tag(f"warm{n}")
            run.console.print(f"warm rebuild {n + 1}/{runs} after a source-only edit")
            warm.append(build(setup, context, tag=tag))
            pushed.append(layers.changed_bytes(run.client, previous, tag) / MB)
            previous = tag
        run.console.print("naive build (--no-cache), then a source-only edit and a rebuild")
        naive = run.tag("naive")
        naive_cold = build_naive(setup, context, tag=naive, no_cache=True)
        edit_source(context, f"{run.id}-{runs}")
        naive_edit = run.tag("naive-edit")
        naive_warm = build_naive(setup, context, tag=naive_edit)
        naive_pushed = layers.changed_bytes(run.client, naive, naive_edit) / MB
    app_over_base = (layers.image_size(run.client, previous) - base_size) / MB
    naive_over_base = (layers.image_size(run.client, naive) - base_size) / MB
    report.add(
        figure(
            "image_size_over_base",
            "(1) app image size over base",
            "MB",
            Stats.of([app_over_base]),
            Stats.of([naive_over_base]),
            "naive single-stage",
            "<= 1/3 of naive",
            at_most_share(1 / 3),
            note=f"base {setup.python_base}: {base_size / MB:.0f} MB (deterministic: one run)",
        )
    )
    report.add(
        figure(
            "layers_over_base",
            "(1) layers over base",
            "layers",
            Stats.of([len(layers.layer_ids(run.client, previous)) - base_layers]),
            Stats.of([len(layers.layer_ids(run.client, naive)) - base_layers]),
            "naive",
            "(reported)",
        )
    )
    report.add(
        figure(
            "changed_layer_bytes",
            "(2) layer bytes changed by a source edit",
            "MB",
            Stats.of(pushed),
            Stats.of([naive_pushed]),
            "naive",
            "< 1 MB",
            at_most(1.0),
            note="uncompressed layer bytes: an upper bound of what `docker push` uploads",
        )
    )
    report.add(
        figure(
            "warm_rebuild",
            "(3) rebuild after a source edit",
            "s",
            Stats.of(warm),
            Stats.of(cold),
            "cold build",
            "< 15% of cold",
            at_most_share(0.15),
            note=f"naive: cold {naive_cold:.1f} s, after an edit {naive_warm:.1f} s",
        )
    )
    report.notes.append(
        f"naive build: cold {naive_cold:.1f} s, rebuild after a source edit {naive_warm:.1f} s"
    )
