"""`python -m gemini_workflow.bench` (`nox -s bench`): run the sections, print the table.

Writes build/bench.json (every run of every figure, the environment, notes) and the same
table as Markdown next to it (build/bench.md). A section that fails is noted and the others
still run; the exit code is 1 then. Whatever happens, the run removes what it created.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gemini_workflow import cli
from gemini_workflow.bench.registry import SECTIONS
from gemini_workflow.bench.report import Report, markdown_table, render_table
from gemini_workflow.bench.run import BenchRun, Options
from gemini_workflow.errors import WorkflowError


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nox -s bench --",
        description="Measure the workflow's and the service's figures next to their references.",
        epilog="sections, in the order they run:\n"
        + "\n".join(f"  {s.name:<12} {s.summary}" for s in SECTIONS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SECTIONS),
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median of them)")
    parser.add_argument(
        "--load-seconds", type=float, default=10.0, help="duration of one throughput run"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=4.0, help="duration of one latency run"
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=list(SECTIONS),
        default=[],
        help="leave this section out (repeatable)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: one run per figure, 3 s load and 2 s latency runs (figures are rough)",
    )
    parser.add_argument("--output", type=Path, default=Path("build/bench.json"))
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.quick:
        args.runs, args.load_seconds, args.latency_seconds = 1, 3.0, 2.0
    return args


def chosen(args: argparse.Namespace) -> list[str]:
    """The sections to run, in registry order: --only (default all) minus --skip."""
    wanted = args.only or list(SECTIONS)
    return [name for name in SECTIONS if name in wanted and name not in args.skip]


def run_sections(run: BenchRun, report: Report, names: Sequence[str]) -> list[str]:
    """Run each named section in turn; return the names of those that failed."""
    failed: list[str] = []
    for name in names:
        run.console.rule(f"bench: {name}")
        started = time.perf_counter()
        try:
            SECTIONS[name].measure(run, report)
        except Exception as exc:  # one broken section must not hide the others
            failed.append(name)
            report.notes.append(f"section `{name}` failed, no figures: {exc}")
            run.console.print(Text.assemble((f"{name} failed: ", "bold red"), str(exc)))
        run.console.print(f"[dim]{name} took {time.perf_counter() - started:.0f} s[/]")
    return failed


def write(report: Report, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    # The same table as Markdown, ready for docs/performance.md.
    output.with_suffix(".md").write_text(markdown_table(report) + "\n")


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    console = console or cli.console()
    options = Options(args.runs, args.load_seconds, args.latency_seconds)
    report = Report()
    started = time.perf_counter()
    try:
        run = BenchRun.start(options, console)
    except WorkflowError as exc:
        console.print(Text.assemble(("bench: ", "bold red"), str(exc)))
        return 1
    with run:
        report.environment = run.environment()
        failed = run_sections(run, report, chosen(args))
    report.notes += run.leftovers
    report.environment["duration_s"] = round(time.perf_counter() - started, 1)
    write(report, args.output)
    console.print(render_table(report))
    for note in report.notes:
        console.print(f"- {note}", markup=False)
    took = report.environment["duration_s"]
    console.print(f"written to {args.output} (and .md) in {took:.0f} s")
    return 1 if failed or run.leftovers else 0


if __name__ == "__main__":
    raise SystemExit(main())
