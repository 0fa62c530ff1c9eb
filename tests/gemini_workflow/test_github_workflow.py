"""The GitHub workflow runs the README's commands, as .ci/run does, and releases with least
privilege. (Its schema and security lint run in `nox -s lint`: check-jsonschema, zizmor.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gemini_workflow import config, quickstart

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_ci_job_runs_exactly_the_readme_quickstart(workflow: dict[str, Any]) -> None:
    steps = [step for step in workflow["jobs"]["ci"]["steps"] if "run" in step]
    ran = [step["run"] for step in steps if step.get("name", "").startswith("quickstart")]
    assert ran == quickstart.commands(quickstart.README.read_text()), (
        "the ci job must run the README Quickstart's commands as written: update "
        ".github/workflows/ci.yml together with the README"
    )
    others = [step["run"] for step in steps if not step.get("name", "").startswith("quickstart")]
    assert all(run.startswith("sudo apt-get") for run in others), others  # prerequisites only


def test_the_release_job_sets_up_the_environment_as_the_quickstart_does(
    workflow: dict[str, Any],
) -> None:
    first = quickstart.commands(quickstart.README.read_text())[0]
    setup, *_ = runs(workflow["jobs"]["release"])
    assert first == f"{setup} && .venv/bin/invoke bootstrap up"  # same pins, no stack


def test_the_release_builds_once_pushes_verifies_and_keeps_record_and_sboms(
    workflow: dict[str, Any],
) -> None:
    release = workflow["jobs"]["release"]
    assert release["needs"] == "ci"
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')"
    commands = runs(release)
    invoked = [c for c in commands if c.startswith(".venv/bin/invoke ")]
    assert invoked == [
        ".venv/bin/invoke build",
        ".venv/bin/invoke push --no-verify",
        ".venv/bin/invoke verify",
    ]
    upload = next(s for s in release["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"].split() == ["build/release.json", "build/sbom/"]


def test_workload_identity_federation_and_no_key(workflow: dict[str, Any]) -> None:
    release = workflow["jobs"]["release"]
    auth = next(s for s in release["steps"] if "google-github-actions/auth" in s.get("uses", ""))
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    assert "credentials_json" not in WORKFLOW.read_text()
    assert any("gcloud auth configure-docker" in c for c in runs(release))


def test_release_settings_reach_invoke_under_its_config_names(workflow: dict[str, Any]) -> None:
    environment = workflow["jobs"]["release"]["env"]
    for variable in environment:
        section, _, key = variable.removeprefix("INVOKE_").lower().partition("_")
        assert key in config.DEFAULTS[section], f"{variable} is no invoke setting"


def test_permissions_are_least_privilege(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert "permissions" not in jobs["ci"]
    assert jobs["release"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert all("timeout-minutes" in job for job in jobs.values())
    assert "concurrency" in workflow
    assert jobs["release"]["concurrency"]["cancel-in-progress"] is False


def test_every_action_is_pinned_by_commit_with_its_release_named() -> None:
    uses = re.findall(r"uses: (\S+)(.*)", WORKFLOW.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{action} needs a # vX.Y.Z comment"


def test_the_auth_action_s_credentials_file_never_dirties_the_tree() -> None:
    """push refuses an untracked file; google-github-actions/auth writes gha-creds-*.json."""
    assert "gha-creds-*.json" in (WORKFLOW.parents[2] / ".gitignore").read_text().splitlines()
