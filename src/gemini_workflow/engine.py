"""The engine `invoke bootstrap` installs where none runs: Docker 28 from Debian testing.

Not bookworm's docker.io (Docker 20.10): its BuildKit ignores SOURCE_DATE_EPOCH and stamps
build times into every image, so no two builds of one commit are the same image (measured:
docs/images.md, "Reproducible images"). Debian testing's dockerd 28 and containerd 2 run on
bookworm with bookworm's own runc (testing's needs glibc 2.38), tini and iptables. They are
unpacked into a directory of the project's own, never over dpkg's files, and started without
systemd, as this machine kind has none.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Final

from invoke.context import Context

from gemini_workflow import debian

PREFIX: Final = Path("/usr/local/lib/gemini-engine")
ROOT_DIR: Final = PREFIX / "root"  # the unpacked packages (usr/bin, usr/sbin, ...)
DAEMON_JSON: Final = PREFIX / "daemon.json"
LOG: Final = Path("/var/log/gemini-engine.log")
PACKAGES: Final = ("docker.io", "containerd")  # from Debian testing
CLI_PACKAGE: Final = "docker-cli"  # from Debian testing, only where no docker CLI exists
HOST_PACKAGES: Final = ("runc", "tini", "iptables")  # bookworm's own
# Debian testing moves on; the release this project's images and stacks were proven with.
TESTED: Final = "28.5"


def tested_note(version: str) -> str:
    """Empty for the tested release; otherwise a note that says what moved."""
    if version.startswith(TESTED):
        return ""
    return f" (Debian testing now carries {version}; this project was tested with {TESTED})"


def installed() -> bool:
    return (ROOT_DIR / "usr/sbin/dockerd").exists()


def daemon_config() -> dict[str, object]:
    """What dockerd needs beyond its defaults to run from the unpacked directory."""
    return {
        # Docker 28 looks for docker-init on PATH; testing's docker.io links it to a
        # tini-static that bookworm's tini package provides at this path.
        "init-path": "/usr/bin/tini-static",
        # Docker 28's own port proxy (its protocol changed), not bookworm's older one.
        "userland-proxy-path": str(ROOT_DIR / "usr/sbin/docker-proxy"),
        # The classic overlay2 image store: image IDs are config digests and `docker save`
        # writes plain layers, which release, verify and the secret scan rely on.
        "features": {"containerd-snapshotter": False},
    }


def install(c: Context, *, with_cli: bool) -> None:
    """Unpack the packages, install bookworm's runtime pieces, write the daemon config."""
    missing = debian.missing_packages(c, *HOST_PACKAGES)
    if missing:
        debian.apt_install(c, *missing)
    packages = (*PACKAGES, *((CLI_PACKAGE,) if with_cli else ()))
    debian.unpack(c, suite=debian.TESTING, packages=packages, target=ROOT_DIR)
    if with_cli:
        c.run(f"ln -sf {ROOT_DIR / 'usr/bin/docker'} /usr/local/bin/docker", hide=True)
    DAEMON_JSON.write_text(json.dumps(daemon_config(), indent=2) + "\n")


def start_command() -> str:
    """dockerd in the background, detached from this session, its own binaries first on PATH.

    dockerd starts and supervises containerd itself (the one from the unpacked directory,
    found through PATH, as is its shim).
    """
    path = f"{ROOT_DIR / 'usr/bin'}:{ROOT_DIR / 'usr/sbin'}:/usr/local/sbin:/usr/local/bin"
    path += ":/usr/sbin:/usr/bin:/sbin:/bin"
    log = shlex.quote(str(LOG))
    return (
        f"setsid nohup env PATH={path} dockerd --config-file {DAEMON_JSON} > {log} 2>&1"
        " < /dev/null &"
    )
