"""The error table in docs/service.md is the one in errors.py: docs cannot drift from behaviour."""

from __future__ import annotations

import re
from pathlib import Path

from gemini_service.errors import markdown_table

SERVICE_DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"
START, END = "<!-- error-table:start -->", "<!-- error-table:end -->"


def documented_error_table() -> str:
    text = SERVICE_DOC.read_text(encoding="utf-8")
    match = re.search(re.escape(START) + r"(.*?)" + re.escape(END), text, re.DOTALL)
    assert match, f"docs/service.md has no {START} ... {END} section"
    return match.group(1)


def rows(table: str) -> list[list[str]]:
    """Cells of each table row, whitespace-normalised, separator row dropped."""
    cells = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.strip().startswith("|")
    ]
    return [row for row in cells if not all(set(cell) <= set("-: ") for cell in row)]


def test_docs_error_table_matches_errors_py() -> None:
    assert rows(documented_error_table()) == rows(markdown_table())
