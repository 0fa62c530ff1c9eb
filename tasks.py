"""Workflow tasks: `invoke --list` shows them, `invoke --help TASK` explains one.

Tasks stay thin: the logic worth testing lives in src/gemini_workflow/. Defaults live in
the invoke config below and can be overridden in invoke.yaml or with INVOKE_* variables
(for example INVOKE_IMAGE_NAME=my-service).
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

CONFIG: dict[str, object] = {
    "image": {"name": "gemini-service"},
}


@task
def version(c: Context) -> None:
    """Print the project version from pyproject.toml."""
    from gemini_service import __version__

    print(__version__)


ns = Collection(version)
ns.configure(CONFIG)
