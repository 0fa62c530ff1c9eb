"""The README Quickstart: two commands, read the way CI reads them, pinned like uv.lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gemini_workflow import quickstart

ROOT = Path(__file__).resolve().parents[2]


def locked_version(name: str) -> str:
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    return next(str(p["version"]) for p in packages if p["name"] == name)


def test_the_readme_shows_two_commands_the_second_running_nox_from_the_venv() -> None:
    first, second = quickstart.commands(quickstart.README.read_text())
    assert first.startswith("python3 -m venv .venv && ")
    assert first.endswith(" && .venv/bin/invoke bootstrap up")
    assert second == ".venv/bin/nox"


def test_the_first_command_pins_pip_and_uv_to_the_versions_uv_lock_pins() -> None:
    first = quickstart.commands(quickstart.README.read_text())[0]
    pins = dict(re.findall(r"\b(pip|uv)==(\S+)", first))
    assert pins == {"pip": locked_version("pip"), "uv": locked_version("uv")}
    assert ".venv/bin/uv sync -q --frozen" in first  # everything else exactly as locked


def test_comments_and_prompts_are_not_part_of_a_command() -> None:
    readme = "## Quickstart\n```bash\n$ make it   # why\n# a note\n\nrun it\n```\n## Next\n"
    assert quickstart.commands(readme) == ["make it", "run it"]


def test_a_readme_without_the_section_is_an_error() -> None:
    with pytest.raises(ValueError, match="no '## Quickstart' section"):
        quickstart.commands("# Title\n")
