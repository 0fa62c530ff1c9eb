"""What every task shares: one console, and one way to turn a WorkflowError into Exit.

A task's whole user interface on failure is one message that says what to do next, with no
traceback; `reported` gives every task that behaviour, so no task repeats the try/except.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from invoke.exceptions import Exit

from gemini_workflow.errors import WorkflowError

if TYPE_CHECKING:  # rich is imported on first use, so `invoke --list` stays fast
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def console() -> Console:
    """The terminal's console, or one 120 columns wide in CI logs, so tables fit.

    soft_wrap: a line longer than the width (an image reference with its digest, a curl
    command) is printed whole, never folded into pieces that no longer copy and paste.
    """
    from rich.console import Console

    found = Console(soft_wrap=True)
    return found if found.is_terminal else Console(width=120, soft_wrap=True)


def reported(body: Callable[P, R]) -> Callable[P, R]:
    """Run a task body; a WorkflowError ends the task as `Exit(message)`, exit code 1."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return body(*args, **kwargs)
        except WorkflowError as exc:
            raise Exit(str(exc)) from exc

    return run
