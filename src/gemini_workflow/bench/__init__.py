"""The benchmark (`nox -s bench`, `python -m gemini_workflow.bench`): the workflow's claims
measured side by side with a reference taken in the same run on the same machine.

Every figure is the median of several runs (with min and max), so a slow or busy machine
moves figure and reference alike and the ratio keeps its meaning. Goals come from the issues
(6: image and stack, 10: swarm deploy, 11: the service's cost, 14: reproducible images); a
benchmark reports, it does not fail: `met` is a verdict in the table, not an exit code.

Imports run one way: __main__ -> registry -> sections/* -> the tools (building, layers, load,
procs, rounds, runtime, targets, releases, swarm_deploy) -> run, report -> the rest of
gemini_workflow (config, docker_engine, stack, stack_up, wait, ...). peers/ holds whole
programs the bench starts, importing nothing of the bench.
"""
