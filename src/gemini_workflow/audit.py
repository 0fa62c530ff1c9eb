"""`nox -s audit`: known vulnerabilities of the image lock (pip-audit), with an honest verdict.

pip-audit asks an advisory service about each pinned version: PyPI's JSON API by default, or
OSV. From a host that cannot reach it, pip-audit either ends in a traceback (OSV) or, worse,
skips every package as "not found on PyPI" and still prints "No known vulnerabilities found"
with exit 0 (a PyPI mirror without the per-version JSON API, as on this project's machines).
This module runs pip-audit with offline-friendly flags (the lock is complete and hashed, so no
pip and no resolution) and turns its JSON into one verdict: clean, vulnerable, or not audited
because the service could not answer. The last one exits non-zero: a skipped audit is not a
passed one.

    python -m gemini_workflow.audit [--service pypi|osv] [-- PIP_AUDIT_ARGS]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gemini_workflow.lockfile import LOCK

SERVICE_HOSTS = {"pypi": "pypi.org", "osv": "api.osv.dev"}
VULNERABLE, NOT_AUDITED = 1, 3
_UNREACHABLE = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|NameResolutionError|"
    r"Failed to establish a new connection|Temporary failure in name resolution|SSLError"
)


@dataclass(frozen=True)
class Verdict:
    code: int  # 0 clean, 1 vulnerable, 3 not audited, other: pip-audit's own failure
    message: str


def command(lock: Path, service: str, extra: Sequence[str] = ()) -> list[str]:
    """pip-audit from this environment on a hashed, complete lock: no pip, no resolver."""
    return [
        sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--require-hashes",
        "--disable-pip", "--vulnerability-service", service, "--format", "json",
        "--progress-spinner", "off", "--timeout", "15", *extra,
    ]  # fmt: skip


def judge(returncode: int, stdout: str, stderr: str, service: str) -> Verdict:
    """One verdict from pip-audit's exit code, JSON report and error output."""
    host = SERVICE_HOSTS.get(service, service)
    elsewhere = (
        f"Nothing was audited. Run `nox -s audit` where {host} is reachable, or scan the "
        "SBOMs in build/sbom/ there (docs/releasing.md, 'Scanning the SBOMs')."
    )
    if returncode != 0 and (found := _UNREACHABLE.search(stderr)):
        return Verdict(
            NOT_AUDITED,
            f"The advisory service ({service}, {host}) cannot be reached ({found[0]}). "
            + elsewhere,
        )
    try:
        dependencies = list(json.loads(stdout)["dependencies"])
    except (ValueError, KeyError, TypeError):
        tail = " / ".join(stderr.strip().splitlines()[-3:]) or "no output"
        return Verdict(returncode or 2, f"pip-audit failed (exit {returncode}): {tail}")
    skipped = [d for d in dependencies if d.get("skip_reason")]
    findings = [
        f"{d['name']} {d.get('version', '?')}: {v.get('id')} (fixed in "
        f"{', '.join(v.get('fix_versions') or []) or 'no release yet'})"
        for d in dependencies
        for v in d.get("vulns") or []
    ]
    unaudited = ""
    if skipped:
        unaudited = (
            f"the advisory service ({service}, {host}) gave no data for {len(skipped)} of "
            f"{len(dependencies)} packages of {LOCK}, which were NOT audited (first: "
            f"{skipped[0]['skip_reason']})."
        )
    if findings:
        head = f"{len(findings)} known vulnerabilities in {LOCK}:\n  " + "\n  ".join(findings)
        return Verdict(VULNERABLE, head + (f"\nAlso, {unaudited}" if unaudited else ""))
    if skipped:
        return Verdict(NOT_AUDITED, unaudited[0].upper() + unaudited[1:] + " " + elsewhere)
    return Verdict(
        0, f"no known vulnerabilities in the {len(dependencies)} packages of {LOCK} ({service})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s audit --", description=__doc__.split("\n")[0])
    parser.add_argument("--service", choices=sorted(SERVICE_HOSTS), default="pypi")
    parser.add_argument("extra", nargs="*", help="more pip-audit arguments")
    options = parser.parse_args(argv)
    try:
        result = subprocess.run(
            command(LOCK, options.service, options.extra),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        verdict = Verdict(NOT_AUDITED, f"pip-audit did not finish in 600 s ({options.service})")
    else:
        verdict = judge(result.returncode, result.stdout, result.stderr, options.service)
    print(verdict.message, file=sys.stderr if verdict.code else sys.stdout)
    return verdict.code


if __name__ == "__main__":
    raise SystemExit(main())
