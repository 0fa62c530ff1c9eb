"""Interleaved rounds and the CPU a host process spends under load: shared by the cpu parts.

On a shared two-core machine a figure taken after another one meets another machine. So each
round runs every target once, the order rotating, and a figure is the median of its rounds.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from typing import TypeVar

from gemini_workflow import loadgen
from gemini_workflow.bench import procs
from gemini_workflow.bench.load import Target, throughput_run

T = TypeVar("T")


def rotations(items: Sequence[T], rounds: int) -> Iterator[tuple[int, list[T]]]:
    """Each round starts one item later, so no target always runs first (or last)."""
    for round_ in range(rounds):
        shift = round_ % len(items)
        yield round_, [*items[shift:], *items[:shift]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def loaded(
    pid: int, target: Target, connections: int, seconds: float
) -> tuple[loadgen.LoadResult, float]:
    """One closed-loop wrk run and the CPU ms the process tree `pid` spent per request."""
    before = procs.cpu_seconds(pid)
    result = throughput_run(target, seconds, connections)
    spent = procs.cpu_seconds(pid) - before
    return result, spent / max(result.requests, 1) * 1000
