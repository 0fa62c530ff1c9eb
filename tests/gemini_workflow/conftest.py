"""Fixtures of the workflow tests: a repo-shaped root and a stand-in for `docker compose`."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.gemini_workflow.stack_support import install_fake_compose, make_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


@pytest.fixture
def fake_compose(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], list[list[str]]]:
    return install_fake_compose(monkeypatch)


@pytest.fixture(scope="session")
def tasks() -> Any:
    """tasks.py as a module, loaded by path like invoke does."""
    path = Path(__file__).resolve().parents[2] / "tasks.py"
    spec = importlib.util.spec_from_file_location("tasks_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
