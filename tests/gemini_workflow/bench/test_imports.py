"""The bench's imports run one way: __main__ -> registry -> sections -> tools -> run, report."""

from __future__ import annotations

import ast
from pathlib import Path

from gemini_workflow import bench

PACKAGE = Path(bench.__file__).parent
PREFIX = "gemini_workflow.bench"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join([PREFIX, *parts]).removesuffix(".__init__")


def imports() -> dict[str, set[str]]:
    """Each bench module and the bench modules it imports (at any level of the file)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[module_name(path)] = {name for name in found if name.startswith(PREFIX + ".")}
    return {name: deps & set(graph) for name, deps in graph.items()}


def test_the_bench_has_no_import_cycle() -> None:
    graph = imports()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " -> ".join((*path, name))
        if name in done:
            return
        for dep in graph[name]:
            visit(dep, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())
    assert f"{PREFIX}.sections.service" in graph  # the walk saw the sections


def test_run_and_report_import_nothing_of_the_bench_above_them() -> None:
    graph = imports()

    assert graph[f"{PREFIX}.report"] == set()
    assert graph[f"{PREFIX}.run"] == set()
    for name, deps in graph.items():
        if name != f"{PREFIX}.__main__":
            assert f"{PREFIX}.__main__" not in deps, name
        if ".sections." in name:
            assert f"{PREFIX}.registry" not in deps, name


def test_the_bench_creates_no_engine_client_and_polls_with_no_loop_of_its_own() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "from_env" not in text, path  # docker_engine.connect() is the one way
        assert "time.sleep" not in text, path  # gemini_workflow.wait is the one way to wait
