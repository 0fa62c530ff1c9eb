"""Debian packages as the project's source of host tools, with or without root.

Two ways in. `apt_install` is the ordinary one and needs root. `fetch_file` takes one file
out of a package (of any suite, testing included) through a private apt state in a temporary
directory: it reads and writes nothing of the system's apt configuration and needs no root,
so an ordinary user can get a statically linked tool (buildx, docker-registry) that way.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Sequence
from pathlib import Path

from invoke.context import Context

from gemini_workflow.errors import WorkflowError

MIRROR = "http://deb.debian.org/debian"
STABLE = "bookworm"
# Debian testing: where newer builds of the docker tools are (buildx >= 0.17 links only libc).
TESTING = "forky"


def is_debian_root() -> bool:
    return os.geteuid() == 0 and Path("/usr/bin/apt-get").exists()


def require_root(what: str) -> None:
    """Stop with the two ways forward: root on Debian/Ubuntu, or Docker Desktop elsewhere."""
    if not is_debian_root():
        raise WorkflowError(
            f"{what} needs root on a Debian/Ubuntu host: run `sudo .venv/bin/invoke bootstrap`"
            " once; elsewhere install Docker Desktop (engine, compose and buildx included) and"
            " run `invoke bootstrap` again"
        )


def apt_install(c: Context, *packages: str) -> None:
    names = " ".join(shlex.quote(p) for p in packages)
    c.run(
        f"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {names}",
        hide=True,
    )


def private_apt(state: Path, suite: str) -> str:
    """An apt-get command line that sees only `suite`, with lists and cache under `state`."""
    sources = state / "sources.list"
    sources.write_text(f"deb {MIRROR} {suite} main\n")
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    return (
        f"apt-get -qq -o Dir::Etc::SourceList={sources} -o Dir::Etc::SourceParts=-"
        f" -o Dir::State::Lists={state}/lists -o Dir::Cache={state}/cache"
        f" -o Debug::NoLocking=1"
    )


def download(c: Context, directory: Path, *, suite: str, packages: Sequence[str]) -> None:
    """The .deb files of `packages` from `suite` into `directory`, with one index update.

    The private apt state lives in `directory` too, so removing it removes everything.
    """
    apt = private_apt(directory, suite)
    names = " ".join(shlex.quote(package) for package in packages)
    c.run(f"{apt} update && cd {directory} && {apt} download {names}", hide=True)


def fetch_file(c: Context, *, suite: str, package: str, member: str, target: Path) -> None:
    """Copy `member` (a path inside the package, like ./usr/bin/x) to `target`, executable.

    Written to a .partial file and renamed, so a half-written tool never looks installed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="gemini-apt-") as tmp:
        download(c, Path(tmp), suite=suite, packages=[package])
        c.run(
            f"dpkg-deb --fsys-tarfile {tmp}/{shlex.quote(package)}_*.deb"
            f" | tar -xO {shlex.quote(member)} > {shlex.quote(str(partial))}"
            f" && chmod 755 {shlex.quote(str(partial))}"
            f" && mv {shlex.quote(str(partial))} {shlex.quote(str(target))}",
            hide=True,
        )


def unpack(c: Context, *, suite: str, packages: Sequence[str], target: Path) -> None:
    """Unpack whole packages under `target` (dpkg-deb -x): their files, not dpkg's bookkeeping.

    So a newer build of a tool lives in a directory of the project's own, beside whatever
    dpkg installed, and removing that directory removes it.
    """
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gemini-apt-") as tmp:
        download(c, Path(tmp), suite=suite, packages=packages)
        for package in packages:
            c.run(
                f"dpkg-deb -x {tmp}/{shlex.quote(package)}_*.deb {shlex.quote(str(target))}",
                hide=True,
            )


def missing_packages(c: Context, *packages: str) -> list[str]:
    """The packages dpkg does not have installed (so apt is asked only for those)."""
    return [
        package
        for package in packages
        if not c.run(f"dpkg -s {shlex.quote(package)}", hide=True, warn=True).ok
    ]
