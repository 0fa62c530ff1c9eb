"""The host rounds behind goals 1 and 2: every target loaded each round, in rotating order."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gemini_workflow import loadgen
from gemini_workflow.bench.load import Target as LoadTarget
from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import cpu
from gemini_workflow.bench.targets import MINIMAL, SERVICE, Target
from tests.gemini_workflow.bench.support import make_run


def test_load_rounds_loads_each_target_every_round_warm_first_and_notes_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str, int]] = []
    servers = {
        t.label: SimpleNamespace(pid=pid, url=f"http://127.0.0.1:{pid}")
        for pid, t in ((101, SERVICE), (202, MINIMAL))
    }

    @contextlib.contextmanager
    def serving(_run: object, chosen: Sequence[Target], fake_ms: int) -> Iterator[Any]:
        assert (list(chosen), fake_ms) == ([SERVICE, MINIMAL], 200)
        yield None, servers

    def warm(target: LoadTarget, _seconds: float, connections: int) -> None:
        events.append(("warm", target.url, connections))

    def loaded(pid: int, target: LoadTarget, connections: int, _s: float) -> Any:
        events.append(("load", target.url, connections))
        statuses = {200: 90, 500: 10} if pid == 202 else {200: 100}
        return loadgen.LoadResult(100, 2.0, {}, {"p50": 1.0}, statuses), pid / 100

    monkeypatch.setattr(cpu.targets, "serving", serving)
    monkeypatch.setattr(cpu, "throughput_run", warm)
    monkeypatch.setattr(cpu, "loaded", loaded)
    monkeypatch.setattr(cpu.procs, "memory_mb", lambda pid, _field: pid / 2)
    report = Report()

    done = cpu.load_rounds(
        make_run(tmp_path, runs=2),
        report,
        [SERVICE, MINIMAL],
        fake_ms=200,
        connections=64,
        what="CPU per /generate",
        warm_seconds=1.0,
    )

    service, minimal = (servers[t.label].url for t in (SERVICE, MINIMAL))
    assert [(kind, url) for kind, url, _ in events] == [
        ("warm", service), ("load", service), ("warm", minimal), ("load", minimal),  # round 1
        ("warm", minimal), ("load", minimal), ("warm", service), ("load", service),  # rotated
    ]  # fmt: skip
    assert {connections for *_, connections in events} == {64}
    assert done.rates == {SERVICE.label: [50.0, 50.0], MINIMAL.label: [45.0, 45.0]}
    assert done.cpu == {SERVICE.label: [1.01, 1.01], MINIMAL.label: [2.02, 2.02]}
    assert done.peaks == {SERVICE.label: 50.5, MINIMAL.label: 101.0}
    assert [note.split(":")[0] for note in report.notes] == [
        f"CPU per /generate {MINIMAL.label}"
    ] * 2
