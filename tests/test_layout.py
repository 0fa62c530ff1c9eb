"""The project facts that tasks, CI and the README rely on."""

import tomllib
from pathlib import Path

import gemini_service

ROOT = Path(__file__).resolve().parents[1]


def test_version_comes_from_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert gemini_service.__version__ == project["version"]
