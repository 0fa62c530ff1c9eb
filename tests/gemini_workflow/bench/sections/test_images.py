"""Rows (1)-(3): which builds run, which images are compared, and how each goal is judged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gemini_workflow.bench import building
from gemini_workflow.bench.report import MB, Report
from gemini_workflow.bench.sections import images
from tests.gemini_workflow.bench.support import SETUP, FakeEngine, FakeImage, make_run


def test_images_section_reports_size_layers_changed_bytes_and_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine({"base:1": FakeImage([("b0", b""), ("b1", b"")], size=100 * MB)})
    builds: list[tuple[str, bool, str]] = []
    edits: list[str] = []

    def fake_build(_setup: object, context: Path, *, tag: str, **kw: Any) -> float:
        builds.append((tag, kw.get("no_cache", False), kw.get("target", "app")))
        naive = kw.get("target") == "naive"
        ids = [("b0", b""), ("b1", b""), ("x", b""), ("y", b""), (tag, b"n" * 7)]
        engine.images.by_tag[tag] = FakeImage(ids, size=(400 if naive else 160) * MB)
        assert (context / building.NAIVE_DOCKERFILE).is_file()
        return 20.0 if kw.get("no_cache") else 2.0

    def fake_changed(_client: object, _before: str, after: str) -> float:
        return (250 if "naive" in after else 0.2) * MB

    monkeypatch.setattr(images, "build_setup", lambda _root: SETUP)
    monkeypatch.setattr(images, "copy_context", lambda _root, _dest: None)
    monkeypatch.setattr(images, "edit_source", lambda _context, marker: edits.append(marker))
    monkeypatch.setattr(images, "build", fake_build)
    monkeypatch.setattr(
        images, "build_naive", lambda *a, **kw: fake_build(*a, target="naive", **kw)
    )
    monkeypatch.setattr(images.layers, "changed_bytes", fake_changed)
    run = make_run(tmp_path, engine)
    report = Report()

    images.measure(run, report)

    figures = {f.key: f for f in report.figures}
    size = figures["image_size_over_base"]
    assert size.reference is not None
    assert (size.value.median, size.reference.median, size.met) == (60.0, 300.0, True)
    assert figures["layers_over_base"].value.median == 3
    assert figures["changed_layer_bytes"].value.runs == pytest.approx((0.2, 0.2))
    assert figures["changed_layer_bytes"].met is True
    assert figures["warm_rebuild"].ratio == pytest.approx(0.1)
    assert figures["warm_rebuild"].met is True
    assert [no_cache for _, no_cache, _ in builds] == [True, True, False, False, True, False]
    assert [tag for tag, *_ in builds][:2] == ["gemini-bench:r1-cold0", "gemini-bench:r1-cold1"]
    assert edits == ["r1-0", "r1-1", "r1-2"]  # each rebuild after a new edit
    assert "naive build: cold 20.0 s" in report.notes[0]
    run.close()
    assert {tag for tag, *_ in builds} <= set(engine.removed)  # every build of the run removed
