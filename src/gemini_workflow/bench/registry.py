"""Every section of the bench, in the order `python -m gemini_workflow.bench` runs them.

Adding a section: write `sections/NAME.py` with `measure(run, report)` (see sections/), then
add one `Section("NAME", NAME.measure)` line below; `--only NAME` selects it from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gemini_workflow.bench.report import Report
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.sections import (
    cpu,
    deploy,
    dev_loop,
    images,
    reproducible,
    service,
    startup,
    up,
)

Measure = Callable[[BenchRun, Report], None]


@dataclass(frozen=True)
class Section:
    name: str
    measure: Measure

    @property
    def summary(self) -> str:
        """The first line of the measure function's docstring, for --help."""
        return (self.measure.__doc__ or self.name).strip().splitlines()[0]


SECTIONS: dict[str, Section] = {
    section.name: section
    for section in (
        Section("images", images.measure),
        Section("startup", startup.measure),
        Section("up", up.measure),
        Section("dev_loop", dev_loop.measure),
        Section("service", service.measure),
        Section("cpu", cpu.measure),
        Section("deploy", deploy.measure),
        Section("reproducible", reproducible.measure),
    )
}
