"""Issue 14 figures: the clone's build next to the tree's, the same ID, bytecode at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemini_workflow import docker_engine
from gemini_workflow.bench.report import Report, rows
from gemini_workflow.bench.sections import reproducible
from tests.gemini_workflow.bench.support import make_run


@pytest.mark.parametrize(
    ("ids", "shown", "met"),
    [
        (("sha256:aaa", "sha256:aaa"), "yes", True),
        (("sha256:aaa", "sha256:bbb"), "no", False),
        (("", ""), "no", False),  # no image found is no proof
    ],
)
def test_the_same_image_id_is_the_goal(ids: tuple[str, str], shown: str, met: bool) -> None:
    report = Report()

    reproducible.add_figures(report, (15.0, 16.0), ids, [1.0, 1.1], [1.6, 1.7])

    same = report.figures[1]
    assert (same.key, same.met) == ("reproducible_same_id", met)
    assert rows(report)[1].cells[1] == shown
    assert report.figures[0].ratio == pytest.approx(16.0 / 15.0)
    assert report.figures[2].ratio == pytest.approx(1.65 / 1.05)


def test_the_variant_without_bytecode_is_built_from_the_scratch_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[docker_engine.BuildSpec] = []
    monkeypatch.setattr(docker_engine, "build", lambda spec, quiet: built.append(spec))
    run = make_run(tmp_path)

    tag = reproducible.without_bytecode(run, "gemini-bench:r1-app")

    (spec,) = built
    assert tag == "gemini-bench:r1-no-bytecode"
    assert spec.context.is_relative_to(run.workdir)
    assert spec.network == "none"
    text = spec.dockerfile.read_text()
    assert text.startswith("FROM gemini-bench:r1-app AS no-bytecode\n")
    assert "-name '*.pyc' -delete" in text
    assert text.rstrip().endswith("USER 10001:10001")  # non-root again, as the image runs
