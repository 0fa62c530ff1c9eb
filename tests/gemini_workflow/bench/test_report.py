"""Figures, goals and the table: statistics, verdicts, JSON, and both renderings of the rows."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from gemini_workflow.bench import report as bench_report
from gemini_workflow.bench.report import (
    Judge,
    Report,
    Stats,
    at_least_share,
    at_most,
    at_most_share,
    figure,
    format_ratio,
    format_stats,
    markdown_table,
    render_table,
    rows,
    verdict,
)


def test_stats_are_median_min_max_of_the_runs() -> None:
    stats = Stats.of([3.0, 1.0, 10.0])

    assert (stats.median, stats.min, stats.max, stats.runs) == (3.0, 1.0, 10.0, (3.0, 1.0, 10.0))
    assert Stats.of([2.0, 4.0]).median == 3.0
    assert Stats.of([1.0, 2.0]).scaled(10).runs == (10.0, 20.0)


def test_a_figure_needs_a_run() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        Stats.of([])


@pytest.mark.parametrize(
    ("value", "reference", "judge", "met"),
    [
        (0.9, None, at_most(1.0), True),
        (1.0, None, at_most(1.0), False),  # the goals read "< 1 s": the limit itself fails
        (30.0, 100.0, at_most_share(1 / 3), True),
        (34.0, 100.0, at_most_share(1 / 3), False),
        (220.0, 256.0, at_least_share(0.85), True),
        (210.0, 256.0, at_least_share(0.85), False),
    ],
)
def test_goal_verdicts_follow_the_issue(
    value: float, reference: float | None, judge: Judge, met: bool
) -> None:
    ref = None if reference is None else Stats.of([reference])

    assert figure("k", "t", "s", Stats.of([value]), ref, "ref", "goal", judge).met is met


def test_share_goals_without_a_reference_have_no_verdict() -> None:
    assert at_most_share(0.5)(Stats.of([1.0]), None) is None
    assert at_least_share(0.5)(Stats.of([1.0]), None) is None
    assert figure("k", "t", "s", Stats.of([1.0]), None, "", "(reported)").met is None


def test_ratio_is_value_over_reference() -> None:
    one = Stats.of([1.0])
    assert figure("k", "t", "s", one, Stats.of([4.0]), "r", "g").ratio == 0.25
    assert figure("k", "t", "s", one, None, "", "g").ratio is None
    assert figure("k", "t", "s", one, Stats.of([0.0]), "r", "g").ratio is None


def sample_report() -> Report:
    report = Report(environment={"cpus": 2})
    report.add(
        figure(
            "warm_rebuild",
            "(3) rebuild",
            "s",
            Stats.of([2.0, 2.5, 3.0]),
            Stats.of([20.0, 21.0, 25.0]),
            "cold build",
            "< 15% of cold",
            at_most_share(0.15),
        )
    )
    report.add(figure("rss", "(7) RSS", "MB", Stats.of([120.0]), None, "", "(reported)"))
    report.add(
        figure(
            "latency",
            "(6) [bold]latency[/bold]",  # brackets a renderer must not eat
            "ms",
            Stats.of([12.1]),
            Stats.of([1.0]),
            "fake",
            "< 3 ms",
            at_most(3.0),
        )
    )
    report.notes.append("a note")
    return report


def test_json_keeps_every_run_and_the_verdict() -> None:
    data = json.loads(json.dumps(sample_report().to_json()))

    first = data["figures"][0]
    assert first["value"]["runs"] == [2.0, 2.5, 3.0]
    assert first["reference"]["median"] == 21.0
    assert first["met"] is True
    assert first["ratio"] == pytest.approx(2.5 / 21.0)
    assert data["figures"][1]["reference"] is None
    assert data["notes"] == ["a note"]
    assert data["environment"] == {"cpus": 2}


def test_format_shows_median_and_spread_with_sensible_digits() -> None:
    assert format_stats(Stats.of([2.0, 2.5, 3.0]), "s") == "2.50 s [2.00-3.00]"
    assert format_stats(Stats.of([120.0]), "MB") == "120 MB"
    assert format_stats(Stats.of([12.34]), "MB") == "12.3 MB"
    assert format_stats(Stats.of([3.0]), "layers") == "3 layers"
    assert format_stats(Stats.of([12.34]), "req/s") == "12 req/s"
    assert format_stats(None, "s") == "-"


def test_ratio_keeps_a_decimal_near_goals_and_turns_to_times_from_ten() -> None:
    assert [format_ratio(r) for r in (None, 0.119, 3.86, 12.1)] == ["-", "11.9%", "386%", "12.1x"]
    assert format_ratio(0.846) == "84.6%"  # under an 85% goal: never rounded up to look met
    assert [format_ratio(r) for r in (1.499, 1.5)] == ["149.9%", "150%"]


def test_verdict_words() -> None:
    assert [verdict(v) for v in (True, False, None)] == ["met", "NOT met", "-"]


def test_rows_hold_every_cell_in_column_order() -> None:
    first, second, third = rows(sample_report())

    assert first.cells == (
        "(3) rebuild",
        "2.50 s [2.00-3.00]",
        "cold build: 21.0 s [20.0-25.0]",
        "11.9%",
        "< 15% of cold",
        "met",
    )
    assert second.cells[2:4] == ("-", "-")  # no reference, no label, no ratio
    assert (third.cells[3], third.cells[5], third.met) == ("12.1x", "NOT met", False)


def test_markdown_is_the_rows_as_a_pipe_table() -> None:
    lines = markdown_table(sample_report()).splitlines()

    assert lines[0] == "| figure | measured | reference | ratio | goal | verdict |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert lines[2] == (
        "| (3) rebuild | 2.50 s [2.00-3.00] | cold build: 21.0 s [20.0-25.0] | 11.9% "
        "| < 15% of cold | met |"
    )
    assert lines[3] == "| (7) RSS | 120 MB | - | - | (reported) | - |"
    assert len(lines) == 2 + len(sample_report().figures)


def test_the_rich_table_prints_the_same_cells_literally() -> None:
    console = Console(width=250, record=True)
    console.print(render_table(sample_report()))
    text = console.export_text()

    for row in rows(sample_report()):
        line = next(line for line in text.splitlines() if row.cells[0] in line)
        for cell in row.cells:
            assert cell in line
    assert "(6) [bold]latency[/bold]" in text  # shown as written, not taken as markup
    assert "[min-max]" in text
    assert bench_report.TITLE in text
