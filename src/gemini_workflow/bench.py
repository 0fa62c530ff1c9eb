"""`nox -s bench`: measure the workflow's claims side by side, print a table, write JSON.

Every figure is the median of several runs (with min and max) and stands next to a
reference measured in the same run on the same machine, so a slow or busy machine moves
both numbers and the ratio stays meaningful. Goals come from issue 6; a benchmark reports,
it does not fail: `met` is a verdict printed in the table, not an exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MB = 1_000_000


@dataclass(frozen=True)
class Stats:
    """The median of several runs and their spread; one run gives min = median = max."""

    median: float
    min: float
    max: float
    runs: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        runs = tuple(values)
        if not runs:
            raise ValueError("a figure needs at least one run")
        return cls(statistics.median(runs), min(runs), max(runs), runs)

    def scaled(self, factor: float) -> Stats:
        return Stats.of(v * factor for v in self.runs)


@dataclass(frozen=True)
class Figure:
    """One row of the table: a measurement, its reference, and the goal it is judged by."""

    key: str
    title: str
    unit: str
    value: Stats
    reference: Stats | None
    reference_label: str
    goal: str
    met: bool | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / reference, the number most goals are stated in."""
        if self.reference is None or self.reference.median == 0:
            return None
        return self.value.median / self.reference.median


@dataclass
class Report:
    """Everything one bench run measured, plus the facts needed to compare runs later."""

    figures: list[Figure] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "notes": self.notes,
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
        }


# --------------------------------------------------------------------------- goals
# One function per kind of goal, so the table and the JSON say the same thing as the issue.

Judge = Callable[[Stats, Stats | None], bool | None]
"""Decides a figure's verdict from its value and reference; None means "no verdict"."""


def at_most(limit: float) -> Judge:
    return lambda value, _reference: value.median < limit


def at_most_share(share: float) -> Judge:
    return lambda value, reference: (
        None if reference is None else value.median <= share * reference.median
    )


def at_least_share(share: float) -> Judge:
    return lambda value, reference: (
        None if reference is None else value.median >= share * reference.median
    )


def figure(
    key: str,
    title: str,
    unit: str,
    value: Stats,
    reference: Stats | None,
    reference_label: str,
    goal: str,
    judge: Judge | None = None,
    note: str = "",
) -> Figure:
    """Build a Figure and judge it against its goal in one step."""
    met = judge(value, reference) if judge else None
    return Figure(key, title, unit, value, reference, reference_label, goal, met, note)


# -------------------------------------------------------------------------- report


def format_stats(stats: Stats | None, unit: str) -> str:
    if stats is None:
        return "-"
    digits = 0 if abs(stats.median) >= 100 else 1 if abs(stats.median) >= 10 else 2
    if unit == "layers" or (unit == "req/s" and stats.median >= 10):
        digits = 0
    text = f"{stats.median:.{digits}f} {unit}"
    if len(stats.runs) > 1:
        text += f" [{stats.min:.{digits}f}-{stats.max:.{digits}f}]"
    return text


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "-"}[met]


def render_table(report: Report) -> Any:
    """The rich table the session prints: one line per figure, goal and verdict last."""
    from rich.table import Table

    table = Table(title="gemini-service benchmark: median \\[min-max] of the runs")
    table.add_column("figure")
    table.add_column("measured", justify="right")
    table.add_column("reference", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("goal")
    table.add_column("verdict")
    for f in report.figures:
        reference = format_stats(f.reference, f.unit)
        if f.reference is not None and f.reference_label:
            reference = f"{f.reference_label}: {reference}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.0%}" if f.ratio < 10 else f"{f.ratio:.1f}x"
        style = {True: "green", False: "bold red", None: ""}[f.met]
        table.add_row(
            f.title,
            format_stats(f.value, f.unit),
            reference,
            ratio,
            f.goal,
            f"[{style}]{verdict(f.met)}[/]" if style else verdict(f.met),
        )
    return table


def markdown_table(report: Report) -> str:
    """The same table as Markdown, for the README's Performance section."""
    rows = [
        "| figure | measured | reference | ratio | goal | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for f in report.figures:
        reference = format_stats(f.reference, f.unit)
        if f.reference is not None and f.reference_label:
            reference = f"{f.reference_label}: {reference}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.0%}" if f.ratio < 10 else f"{f.ratio:.1f}x"
        rows.append(
            f"| {f.title} | {format_stats(f.value, f.unit)} | {reference} | {ratio} "
            f"| {f.goal} | {verdict(f.met)} |"
        )
    return "\n".join(rows)


def environment() -> dict[str, Any]:
    """Where and when the figures were taken, so two bench.json files can be compared."""

    def output(*command: str) -> str:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": output("git", "rev-parse", "--short", "HEAD"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker": output("docker", "version", "--format", "{{.Server.Version}}"),
        "loadavg_at_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------------------- CLI

SECTIONS = ("images", "startup", "up", "service")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nox -s bench --",
        description="Measure image size, rebuild, startup and service figures side by side.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median of them)")
    parser.add_argument(
        "--load-seconds", type=float, default=10.0, help="duration of one throughput run"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=4.0, help="duration of one latency run"
    )
    parser.add_argument("--output", type=Path, default=Path("build/bench.json"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    from gemini_workflow import bench_measure

    args = parse_args(sys.argv[1:] if argv is None else argv)
    console = Console()
    report = Report(environment=environment())
    sections = args.only or list(SECTIONS)
    started = time.perf_counter()
    failed: list[str] = []
    try:
        for section in sections:
            console.rule(f"bench: {section}")
            section_started = time.perf_counter()
            try:
                bench_measure.SECTIONS[section](report, args, console)
            except Exception as exc:  # one broken section must not hide the others
                failed.append(section)
                report.notes.append(f"section `{section}` failed, no figures: {exc}")
                console.print(f"[bold red]{section} failed:[/] {exc}")
            took = time.perf_counter() - section_started
            console.print(f"[dim]{section} took {took:.0f} s[/]")
    finally:
        bench_measure.TAGS.remove_all()
    report.environment["duration_s"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    # The same table as Markdown, ready for the README's Performance section.
    args.output.with_suffix(".md").write_text(markdown_table(report) + "\n")
    console.print(render_table(report))
    for note in report.notes:
        console.print(f"- {note}")
    took = report.environment["duration_s"]
    console.print(f"written to {args.output} (and .md) in {took:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
