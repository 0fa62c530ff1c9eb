"""The command line: options, the sections it runs, the files it writes, the cleanup."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gemini_workflow.bench import __main__ as bench_main
from gemini_workflow.bench.registry import SECTIONS, Section
from gemini_workflow.bench.report import Report, Stats, figure
from gemini_workflow.bench.run import BenchRun, Options
from gemini_workflow.docker_engine import EngineUnavailable
from tests.gemini_workflow.bench.support import FakeEngine, make_run, quiet


def test_the_sections_and_their_order_are_the_command_lines_contract() -> None:
    assert list(SECTIONS) == [
        "images",
        "startup",
        "up",
        "dev_loop",
        "service",
        "cpu",
        "deploy",
        "reproducible",
    ]
    assert all(name == section.name for name, section in SECTIONS.items())
    assert SECTIONS["startup"].summary.startswith("Container start to the first 200")


def test_arguments_default_to_all_sections_and_three_runs() -> None:
    args = bench_main.parse_args([])

    assert args.only is None
    assert (args.runs, args.load_seconds, args.latency_seconds) == (3, 10.0, 4.0)
    assert args.output == Path("build/bench.json")
    assert bench_main.parse_args(["--only", "images", "--only", "up"]).only == ["images", "up"]


def test_quick_is_one_short_run_and_skip_leaves_sections_out() -> None:
    args = bench_main.parse_args(["--quick", "--skip", "deploy", "--skip", "images"])

    assert (args.runs, args.load_seconds, args.latency_seconds) == (1, 3.0, 2.0)
    assert "deploy" not in bench_main.chosen(args)
    assert bench_main.chosen(args)[0] == "startup"
    only = bench_main.parse_args(["--only", "cpu", "--only", "images", "--skip", "cpu"])
    assert bench_main.chosen(only) == ["images"]


@pytest.mark.parametrize("argv", [["--only", "nonsense"], ["--runs", "0"], ["--skip", "x"]])
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_main.parse_args(argv)
    assert "error:" in capsys.readouterr().err


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """BenchRun.start hands out a run on this fake engine, with the options it was given."""
    fake = FakeEngine()

    def start(options: Options, console: object) -> BenchRun:
        run = make_run(tmp_path, fake)
        run.options = options
        return run

    monkeypatch.setattr(BenchRun, "start", start)
    return fake


def test_main_runs_the_chosen_sections_writes_both_files_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    seen: list[int] = []

    def section(run: BenchRun, report: Report) -> None:
        seen.append(run.options.runs)
        run.tag("made")
        report.add(figure("x", "x", "s", Stats.of([1.0]), None, "", "(reported)"))

    monkeypatch.setitem(SECTIONS, "startup", Section("startup", section))
    output = tmp_path / "out" / "bench.json"

    code = bench_main.main(
        ["--only", "startup", "--runs", "5", "--output", str(output)], console=quiet()
    )

    assert code == 0
    assert seen == [5]
    assert engine.removed == ["gemini-bench:r1-made"]
    data = json.loads(output.read_text())
    assert [f["key"] for f in data["figures"]] == ["x"]
    assert data["environment"]["docker"] == "20.10.24"
    assert data["environment"]["duration_s"] >= 0
    assert output.with_suffix(".md").read_text().startswith("| figure |")


def test_a_failing_section_is_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    def broken(_run: BenchRun, _report: Report) -> None:
        raise RuntimeError("engine restarted")

    def fine(_run: BenchRun, report: Report) -> None:
        report.add(figure("ok", "ok", "s", Stats.of([1.0]), None, "", "(reported)"))

    monkeypatch.setitem(SECTIONS, "images", Section("images", broken))
    monkeypatch.setitem(SECTIONS, "up", Section("up", fine))
    output = tmp_path / "bench.json"

    code = bench_main.main(
        ["--only", "images", "--only", "up", "--output", str(output)], console=quiet()
    )

    data = json.loads(output.read_text())
    assert code == 1
    assert [f["key"] for f in data["figures"]] == ["ok"]
    assert "section `images` failed, no figures: engine restarted" in data["notes"]


def test_what_could_not_be_removed_is_noted_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    engine.refuse.add("gemini-bench:r1-stuck")
    monkeypatch.setitem(SECTIONS, "up", Section("up", lambda run, _report: [run.tag("stuck")]))
    output = tmp_path / "bench.json"

    code = bench_main.main(["--only", "up", "--output", str(output)], console=quiet())

    assert code == 1
    notes = json.loads(output.read_text())["notes"]
    assert any(note.startswith("could not remove image gemini-bench:r1-stuck") for note in notes)


def test_without_an_engine_it_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_engine(options: Options, console: object) -> BenchRun:
        raise EngineUnavailable("no Docker engine reachable: run `invoke bootstrap`")

    monkeypatch.setattr(BenchRun, "start", no_engine)
    console = quiet()
    output = tmp_path / "bench.json"

    assert bench_main.main(["--output", str(output)], console=console) == 1
    assert isinstance(console.file, io.StringIO)
    assert "invoke bootstrap" in console.file.getvalue()
    assert not output.exists()
