"""The host programs the test sessions drive: `invoke bootstrap --test-tools` provides them.

wrk is the load generator of the bench, the reliability suite and the deploy tests; a Chromium
renders /docs in a real browser in the smoke tests. Any of the listed programs will do, so a CI
runner that brings its own browser is ready as it is.
"""

from __future__ import annotations

import shutil

from invoke.context import Context

from gemini_workflow import debian
from gemini_workflow.errors import WorkflowError

# Each by the programs that will do, and the Debian package that brings one.
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "wrk": (("wrk",), "wrk"),
    "Chromium": (("chromium", "chromium-browser", "google-chrome"), "chromium"),
}


def ensure(c: Context) -> tuple[bool, str]:
    """(changed, what was done): what is missing is installed from Debian as root, or named
    with the command that installs it."""
    missing = {
        name: package
        for name, (programs, package) in TOOLS.items()
        if not any(shutil.which(program) for program in programs)
    }
    if not missing:
        return False, f"{', '.join(TOOLS)} present"
    if not debian.is_debian_root():
        raise WorkflowError(
            f"the test sessions need {', '.join(missing)}: install them (on Debian/Ubuntu:"
            f" `sudo apt-get install {' '.join(missing.values())}`), or run `invoke bootstrap"
            " --test-tools` as root"
        )
    debian.apt_install(c, *missing.values())
    return True, f"installed {', '.join(missing.values())} (Debian)"


def browser() -> str | None:
    """The first Chromium found on PATH (the browser tests drive it headless)."""
    return next(filter(None, map(shutil.which, TOOLS["Chromium"][0])), None)
