"""Workflow tasks: `invoke --list` shows them, `invoke --help TASK` explains one.

Tasks stay thin: the logic worth testing lives in src/gemini_workflow/. Defaults live in
the invoke config below and can be overridden in invoke.yaml or with INVOKE_* variables
(for example INVOKE_IMAGE_NAME=my-service).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

ROOT = Path(__file__).resolve().parent

CONFIG: dict[str, object] = {
    # --- images (issue 3): `invoke build`, `invoke lock`, `invoke bootstrap` ---
    "image": {
        "name": "gemini-service",  # the fake is "<name>-fake"
        "python_version": "3.11",  # major.minor of images.python
        # `invoke build` fails above these (measured: README "Image anatomy").
        "budgets": {"max_size_mb": 300, "max_added_mb": 120, "max_layers": 10},
    },
    # Base images pinned by digest (Renovate bumps them). On hosts without Docker Hub,
    # `invoke bootstrap` writes local stand-ins here (invoke.yaml) and sets `offline`.
    "images": {
        "python": "python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b",  # noqa: E501
        "nginx": "nginx:1.27-bookworm@sha256:bc5eac5eafc581aeda3008b4b1f07ebba230de2f27d47767129a6a905c84f470",  # noqa: E501
    },
    # True: builds use the stand-ins and the host wheelhouse, with no network inside.
    "offline": False,
    # --- end images ---
}


@task
def version(c: Context) -> None:
    """Print the project version from pyproject.toml."""
    from gemini_service import __version__

    print(__version__)


# --- images (issue 3) ---------------------------------------------------------------------


@task(
    help={
        "no-cache": "Rebuild every layer (e.g. to pick up base image security fixes).",
        "target": "app, fake or all (default).",
        "python-version": "Python major.minor (default: image.python_version in config).",
        "name": "Image repository name (default: image.name in config); the fake adds -fake.",
    }
)
def build(
    c: Context,
    no_cache: bool = False,
    target: str = "all",
    python_version: str = "",
    name: str = "",
) -> None:
    """Build the app and fake images, print their anatomy, fail on budgets, secrets, root."""
    from rich.console import Console

    from gemini_workflow import images
    from gemini_workflow.errors import WorkflowError

    console = Console()
    try:
        request = images.request_from_config(
            c.config,
            root=ROOT,
            target=target,
            python_version=python_version,
            name=name,
            no_cache=no_cache,
            environ=os.environ,
        )
        reports = images.build_images(request)
    except images.ImageCheckFailed as exc:
        console.print(images.report_table(exc.reports))
        raise Exit(str(exc)) from exc
    except WorkflowError as exc:
        raise Exit(str(exc)) from exc
    console.print(images.report_table(reports))


@task(help={"upgrade": "Move every dependency to its newest allowed version."})
def lock(c: Context, upgrade: bool = False) -> None:
    """Compile containers/requirements.lock (hashes, runtime deps only) from pyproject.toml."""
    from gemini_workflow import lockfile

    lock_path = ROOT / lockfile.LOCK
    pyproject = ROOT / "pyproject.toml"
    version = str(c.config.image.python_version)
    c.run(shlex.join(lockfile.compile_command(pyproject, lock_path, version, upgrade=upgrade)))
    lockfile.stamp(lock_path, lockfile.inputs_digest(pyproject))
    print(f"wrote {lockfile.LOCK}; commit it with pyproject.toml")


@task(help={"offline": "Prepare the offline path even where Docker Hub answers (as CI does)."})
def bootstrap(c: Context, offline: bool = False) -> None:
    """Prepare this host: engine, compose, buildx and, without Docker Hub, offline builds."""
    from rich.console import Console

    from gemini_workflow import host
    from gemini_workflow.errors import WorkflowError

    console = Console()
    options = host.Options(
        root=ROOT, python_version=str(c.config.image.python_version), force_offline=offline
    )

    def show(step: host.Step) -> None:
        mark = "[green]+[/]" if step.changed else "[dim]=[/]"
        console.print(f"{mark} {step.name}: {step.detail} [dim]({step.seconds:.1f} s)[/]")

    try:
        with console.status("bootstrapping (a fresh host takes about two minutes)"):
            steps = host.bootstrap(c, options, on_step=show)
    except WorkflowError as exc:
        raise Exit(f"bootstrap stopped: {exc}") from exc
    console.print(host.summary(steps))


# --- end images ------------------------------------------------------------------------------

ns = Collection(version, build, lock, bootstrap)
ns.configure(CONFIG)
