"""What a bench run found: figures with their references and goals, and the table of them.

Pure data and formatting, no engine: a section measures, builds `Figure`s with `figure()`
(which judges each against its goal), and adds them to the `Report`. Both renderings of
the table, the rich one printed at the end and the Markdown one written to build/bench.md,
are made from the same `Row`s, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # rich is imported when a table is rendered
    from rich.table import Table

MB: Final = 1_000_000
YES_NO: Final = "yes/no"
"""The unit of a figure that states a fact (1 = yes, 0 = no), such as "the two IDs match"."""


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
    """The median stays under `limit` (strictly: the goals read "< 1 s")."""
    return lambda value, _reference: value.median < limit


def every_run_at_most(limit: float) -> Judge:
    """Not the median: every run stays at or under `limit` (a goal of "0 failed" each time)."""
    return lambda value, _reference: value.max <= limit


def is_yes() -> Judge:
    """A YES_NO figure: met when it says yes."""
    return lambda value, _reference: value.median >= 1


def at_most_share(share: float) -> Judge:
    """The median is at most `share` of the reference's median."""
    return lambda value, reference: (
        None if reference is None else value.median <= share * reference.median
    )


def at_least_share(share: float) -> Judge:
    """The median is at least `share` of the reference's median."""
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


# --------------------------------------------------------------------------- table

TITLE: Final = "gemini-service benchmark: median [min-max] of the runs"
COLUMNS: Final = ("figure", "measured", "reference", "ratio", "goal", "verdict")


def format_stats(stats: Stats | None, unit: str) -> str:
    if stats is None:
        return "-"
    if unit == YES_NO:  # a fact, not a quantity: 1 for yes, 0 for no
        return "yes" if stats.median >= 1 else "no"
    digits = 0 if abs(stats.median) >= 100 else 1 if abs(stats.median) >= 10 else 2
    if unit == "layers" or (unit == "req/s" and stats.median >= 10):
        digits = 0
    text = f"{stats.median:.{digits}f} {unit}"
    if len(stats.runs) > 1:
        text += f" [{stats.min:.{digits}f}-{stats.max:.{digits}f}]"
    return text


def format_ratio(ratio: float | None) -> str:
    """One decimal where goals sit (15%, 85%, 100%), so 84.6% never shows as a met-looking 85%."""
    if ratio is None:
        return "-"
    if ratio < 1.5:
        return f"{ratio:.1%}"
    return f"{ratio:.0%}" if ratio < 10 else f"{ratio:.1f}x"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "-"}[met]


@dataclass(frozen=True)
class Row:
    """One figure as the table shows it: the cells in COLUMNS order, plus the verdict."""

    cells: tuple[str, str, str, str, str, str]
    met: bool | None


def rows(report: Report) -> list[Row]:
    """The table's rows, one per figure, in the order the sections added them."""
    table = []
    for f in report.figures:
        reference = format_stats(f.reference, f.unit)
        if f.reference is not None and f.reference_label:
            reference = f"{f.reference_label}: {reference}"
        cells = (
            f.title,
            format_stats(f.value, f.unit),
            reference,
            format_ratio(f.ratio),
            f.goal,
            verdict(f.met),
        )
        table.append(Row(cells, f.met))
    return table


def render_table(report: Report) -> Table:
    """The rich table the bench prints: one line per figure, goal and verdict last."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(TITLE))
    for column in COLUMNS:
        right = column in ("measured", "reference", "ratio")
        table.add_column(column, justify="right" if right else "left")
    styles = {True: "green", False: "bold red", None: ""}
    for row in rows(report):
        *cells, last = row.cells
        # Text, not markup: a cell such as "[0.39-0.41]" must print as it is.
        table.add_row(*map(Text, cells), Text(last, style=styles[row.met]))
    return table


def markdown_table(report: Report) -> str:
    """The same table as Markdown, for docs/performance.md."""
    lines = [f"| {' | '.join(COLUMNS)} |", "|" + "---|" * len(COLUMNS)]
    lines += [f"| {' | '.join(row.cells)} |" for row in rows(report)]
    return "\n".join(lines)
