"""The bench's sections, one module each; registry.py lists them in the order they run.

A section is a module with `measure(run: BenchRun, report: Report) -> None`: it measures
through the run (its names, the engine, stacks, cleanup) and adds Figures to the report,
each next to its reference and judged against its goal. Shared tools: building.py (builds
as `invoke build` makes them), layers.py (image anatomy), load.py (wrk runs, memory).
"""
