"""`nox -s audit`'s verdict from pip-audit's output, as seen on hosts without the service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import audit

# What pip-audit printed on this project's machine (OSV unreachable), abridged.
OSV_TRACEBACK = """Traceback (most recent call last):
  File ".../requests/adapters.py", line 729, in send
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): Max \
retries exceeded with url: /v1/query (Caused by NameResolutionError("Failed to resolve"))
"""


def report(*dependencies: dict[str, Any]) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_the_command_audits_the_hashed_lock_without_pip() -> None:
    command = audit.command(Path("containers/requirements.lock"), "pypi", ["--strict"])
    assert command[:3] == [sys.executable, "-m", "pip_audit"]
    assert {"--require-hashes", "--disable-pip"} <= set(command)
    assert command[command.index("--format") + 1] == "json"
    assert command[-1] == "--strict"


def test_an_unreachable_service_is_said_not_a_traceback() -> None:
    verdict = audit.judge(1, "", OSV_TRACEBACK, "osv")
    assert verdict.code == audit.NOT_AUDITED
    assert verdict.message.startswith("The advisory service (osv, api.osv.dev) cannot be reached")
    assert "Traceback" not in verdict.message
    assert "docs/releasing.md" in verdict.message


def test_packages_the_service_knows_nothing_about_are_not_a_pass() -> None:
    skipped = {"name": "fastapi", "skip_reason": "Dependency not found on PyPI: fastapi (0.1)"}
    verdict = audit.judge(0, report(skipped, {**skipped, "name": "h11"}), "", "pypi")
    assert verdict.code == audit.NOT_AUDITED
    assert "gave no data for 2 of 2 packages" in verdict.message
    assert "NOT audited" in verdict.message


def test_vulnerabilities_are_listed_with_their_fixes() -> None:
    vulnerable = {
        "name": "h11",
        "version": "0.14.0",
        "vulns": [{"id": "GHSA-vqfr-h8mv-ghfj", "fix_versions": ["0.16.0"]}],
    }
    verdict = audit.judge(
        1, report(vulnerable, {"name": "idna", "version": "3.10", "vulns": []}), "", "pypi"
    )
    assert verdict.code == audit.VULNERABLE
    assert "h11 0.14.0: GHSA-vqfr-h8mv-ghfj (fixed in 0.16.0)" in verdict.message


def test_a_clean_audit_counts_what_it_checked() -> None:
    clean = {"name": "idna", "version": "3.10", "vulns": []}
    verdict = audit.judge(0, report(clean), "", "pypi")
    assert (verdict.code, verdict.message) == (
        0,
        "no known vulnerabilities in the 1 packages of containers/requirements.lock (pypi)",
    )


def test_other_failures_keep_pip_audit_s_words() -> None:
    verdict = audit.judge(2, "", "error: invalid requirement\n", "pypi")
    assert verdict == audit.Verdict(2, "pip-audit failed (exit 2): error: invalid requirement")


def test_main_prints_the_verdict_and_returns_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert command[command.index("--vulnerability-service") + 1] == "osv"
        return subprocess.CompletedProcess(command, 1, "", OSV_TRACEBACK)

    monkeypatch.setattr(audit.subprocess, "run", fake_run)
    assert audit.main(["--service", "osv"]) == audit.NOT_AUDITED
    assert "cannot be reached" in capsys.readouterr().err
