"""Fixtures of the workflow tests: a repo-shaped root and a stand-in for `docker compose`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gemini_workflow.stack_support import install_fake_compose, make_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


@pytest.fixture
def fake_compose(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], list[list[str]]]:
    return install_fake_compose(monkeypatch)
