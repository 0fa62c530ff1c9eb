"""The README Quickstart's commands, read from the README itself.

CI (`.ci/run`) and the GitHub workflow run exactly these commands, so the README cannot drift
from what is tested. Standard library only: `.ci/run` calls it before any environment exists,
as `PYTHONPATH=src python3 -m gemini_workflow.quickstart`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_SECTION = re.compile(r"^## Quickstart\s*$(.*?)^## ", re.S | re.M)
_BLOCK = re.compile(r"```(?:bash|sh|console|shell)?\n(.*?)```", re.S)
_COMMENT = re.compile(r"\s+#.*$")


def commands(readme: str) -> list[str]:
    """The shell commands of the Quickstart's code blocks, comments and prompts removed."""
    section = _SECTION.search(readme)
    if section is None:
        raise ValueError("README.md has no '## Quickstart' section followed by another section")
    lines = [line for block in _BLOCK.findall(section[1]) for line in block.splitlines()]
    found = [_COMMENT.sub("", line).strip().removeprefix("$ ").strip() for line in lines]
    return [command for command in found if command and not command.startswith("#")]


def main() -> int:
    found = commands(README.read_text(encoding="utf-8"))
    if len(found) != 2:
        print(f"the Quickstart should show two commands, found {len(found)}", file=sys.stderr)
        return 1
    print("\n".join(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
