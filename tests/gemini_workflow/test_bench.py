"""The bench's figures: statistics, goal verdicts, the printed table and the JSON file."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import pytest
from rich.console import Console

from gemini_workflow import bench, bench_measure


def test_stats_are_median_min_max_of_the_runs() -> None:
    stats = bench.Stats.of([3.0, 1.0, 10.0])

    assert (stats.median, stats.min, stats.max, stats.runs) == (3.0, 1.0, 10.0, (3.0, 1.0, 10.0))
    assert bench.Stats.of([2.0, 4.0]).median == 3.0
    assert bench.Stats.of([1.0, 2.0]).scaled(10).runs == (10.0, 20.0)


def test_a_figure_needs_a_run() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        bench.Stats.of([])


@pytest.mark.parametrize(
    ("value", "reference", "judge", "met"),
    [
        (0.9, None, bench.at_most(1.0), True),
        (1.0, None, bench.at_most(1.0), False),
        (30.0, 100.0, bench.at_most_share(1 / 3), True),
        (34.0, 100.0, bench.at_most_share(1 / 3), False),
        (220.0, 256.0, bench.at_least_share(0.85), True),
        (210.0, 256.0, bench.at_least_share(0.85), False),
    ],
)
def test_goal_verdicts_follow_the_issue(
    value: float, reference: float | None, judge: bench.Judge, met: bool
) -> None:
    ref = None if reference is None else bench.Stats.of([reference])
    figure = bench.figure("k", "t", "s", bench.Stats.of([value]), ref, "ref", "goal", judge)

    assert figure.met is met


def test_share_goals_without_a_reference_have_no_verdict() -> None:
    assert bench.at_most_share(0.5)(bench.Stats.of([1.0]), None) is None
    assert bench.at_least_share(0.5)(bench.Stats.of([1.0]), None) is None


def test_ratio_is_value_over_reference() -> None:
    one = bench.Stats.of([1.0])
    assert bench.figure("k", "t", "s", one, bench.Stats.of([4.0]), "r", "g").ratio == 0.25
    assert bench.figure("k", "t", "s", one, None, "", "g").ratio is None
    assert bench.figure("k", "t", "s", one, bench.Stats.of([0.0]), "r", "g").ratio is None


def sample_report() -> bench.Report:
    report = bench.Report(environment={"cpus": 2})
    report.add(
        bench.figure(
            "warm_rebuild",
            "(3) rebuild",
            "s",
            bench.Stats.of([2.0, 2.5, 3.0]),
            bench.Stats.of([20.0, 21.0, 25.0]),
            "cold build",
            "< 15% of cold",
            bench.at_most_share(0.15),
        )
    )
    report.add(
        bench.figure("rss", "(7) RSS", "MB", bench.Stats.of([120.0]), None, "", "(reported)")
    )
    report.notes.append("a note")
    return report


def test_json_keeps_every_run_and_the_verdict() -> None:
    data = json.loads(json.dumps(sample_report().to_json()))

    figure = data["figures"][0]
    assert figure["value"]["runs"] == [2.0, 2.5, 3.0]
    assert figure["reference"]["median"] == 21.0
    assert figure["met"] is True
    assert figure["ratio"] == pytest.approx(2.5 / 21.0)
    assert data["figures"][1]["reference"] is None
    assert data["notes"] == ["a note"]


def test_format_shows_median_and_spread_with_sensible_digits() -> None:
    assert bench.format_stats(bench.Stats.of([2.0, 2.5, 3.0]), "s") == "2.50 s [2.00-3.00]"
    assert bench.format_stats(bench.Stats.of([120.0]), "MB") == "120 MB"
    assert bench.format_stats(bench.Stats.of([12.34]), "MB") == "12.3 MB"
    assert bench.format_stats(bench.Stats.of([3.0]), "layers") == "3 layers"
    assert bench.format_stats(None, "s") == "-"


def test_markdown_and_rich_tables_carry_every_figure_and_verdict() -> None:
    report = sample_report()

    markdown = bench.markdown_table(report)
    console = Console(width=200, record=True)
    console.print(bench.render_table(report))
    text = console.export_text()

    assert "| (3) rebuild | 2.50 s [2.00-3.00] | cold build: 21.0 s [20.0-25.0] | 12% |" in markdown
    assert "| (7) RSS | 120 MB | - | - | (reported) | - |" in markdown
    assert "(3) rebuild" in text
    assert "met" in text
    assert "[min-max]" in text  # escaped, not eaten as rich markup


def test_verdict_words() -> None:
    assert [bench.verdict(v) for v in (True, False, None)] == ["met", "NOT met", "-"]


def test_environment_records_where_the_figures_come_from() -> None:
    env = bench.environment()

    assert env["cpus"]
    assert env["date"]
    assert "loadavg_at_start" in env


def test_arguments_default_to_all_sections_and_three_runs() -> None:
    args = bench.parse_args([])
    assert args.only is None
    assert args.runs == 3
    assert args.output == Path("build/bench.json")
    assert bench.parse_args(["--only", "images", "--only", "up"]).only == ["images", "up"]


def test_main_runs_the_chosen_sections_writes_json_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def fake_section(report: bench.Report, args: Namespace, _console: Console) -> None:
        seen.append(args.runs)
        report.add(bench.figure("x", "x", "s", bench.Stats.of([1.0]), None, "", "(reported)"))

    removed: list[bool] = []
    monkeypatch.setitem(bench_measure.SECTIONS, "startup", fake_section)
    monkeypatch.setattr(bench_measure.TAGS, "remove_all", lambda: removed.append(True))
    output = tmp_path / "bench.json"

    assert bench.main(["--only", "startup", "--runs", "5", "--output", str(output)]) == 0

    assert seen == [5]
    assert removed == [True]
    data = json.loads(output.read_text())
    assert [f["key"] for f in data["figures"]] == ["x"]
    assert data["environment"]["duration_s"] >= 0
    assert output.with_suffix(".md").read_text().startswith("| figure |")


def test_a_failing_section_is_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_report: bench.Report, _args: Namespace, _console: Console) -> None:
        raise RuntimeError("engine restarted")

    def fine(report: bench.Report, _args: Namespace, _console: Console) -> None:
        report.add(bench.figure("ok", "ok", "s", bench.Stats.of([1.0]), None, "", "(reported)"))

    monkeypatch.setitem(bench_measure.SECTIONS, "images", broken)
    monkeypatch.setitem(bench_measure.SECTIONS, "up", fine)
    monkeypatch.setattr(bench_measure.TAGS, "remove_all", lambda: None)
    output = tmp_path / "bench.json"

    code = bench.main(["--only", "images", "--only", "up", "--output", str(output)])

    data = json.loads(output.read_text())
    assert code == 1
    assert [f["key"] for f in data["figures"]] == ["ok"]
    assert "section `images` failed, no figures: engine restarted" in data["notes"]
