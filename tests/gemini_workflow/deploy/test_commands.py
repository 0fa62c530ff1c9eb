"""The apply commands: docs/deploying.md shows exactly what the task prints, and they fit."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from gemini_workflow import config
from gemini_workflow.deploy import cloudrun, commands
from tests.gemini_workflow.deploy.conftest import ROOT

DOCS = ROOT / "docs" / "deploying.md"
BLOCK = re.compile(r"<!-- commands: (?P<key>[\w -]+?) -->\n```bash\n(?P<body>.*?)\n```", re.S)
KEYS = {("kubernetes", "base"), ("kubernetes", "fake-upstream"), ("cloudrun", "")}


def script(target: str, overlay: str) -> list[str]:
    deploy = config.DEFAULTS["deploy"]
    return commands.script(target, overlay, deploy["render_dir"], deploy["client_keys"])


def documented() -> dict[tuple[str, str], list[str]]:
    blocks = {}
    for match in BLOCK.finditer(DOCS.read_text()):
        target, _, overlay = match["key"].partition(" ")
        blocks[(target, overlay)] = match["body"].splitlines()
    return blocks


def test_the_docs_show_every_script_exactly_as_the_task_prints_it() -> None:
    blocks = documented()
    assert set(blocks) == KEYS
    for (target, overlay), lines in blocks.items():
        assert lines == script(target, overlay), f"docs/deploying.md, {target} {overlay}"


def test_the_docs_show_no_other_kubectl_or_gcloud_command() -> None:
    """Other sections (Swarm) may show their own commands; none may run kubectl or gcloud."""
    printed = {line for key in KEYS for line in script(*key)}
    shown = [
        line
        for line in DOCS.read_text().splitlines()
        if re.match(r"^(kubectl|gcloud|printf|curl) ", line) and re.search(r"kubectl|gcloud", line)
    ]
    assert len(shown) > 20
    assert set(shown) <= printed


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (("kubernetes", "base"), "kubectl apply -k build/deploy/kubernetes/base"),
        (("kubernetes", "base"), "kubectl rollout undo deployment/gemini-service"),
        (
            ("kubernetes", "fake-upstream"),
            "kubectl apply -k build/deploy/kubernetes/overlays/fake-upstream",
        ),
        (
            ("cloudrun", ""),
            'gcloud run services replace build/deploy/cloudrun/service.yaml --project="$PROJECT"'
            ' --region="$REGION"',
        ),
        (
            ("cloudrun", ""),
            'gcloud run services update-traffic gemini-service --project="$PROJECT"'
            ' --region="$REGION" --to-revisions="$REVISION=100"',
        ),
    ],
)
def test_the_scripts_apply_and_roll_back(key: tuple[str, str], expected: str) -> None:
    assert expected in script(*key)


def test_secrets_come_from_files_and_nothing_opens_the_service() -> None:
    for key in KEYS:
        text = "\n".join(script(*key))
        for forbidden in ("--from-literal", "allow-unauthenticated", "allUsers", "iam-check"):
            assert forbidden not in text, (key, forbidden)
    kubernetes = script("kubernetes", "base")
    assert sum("kubectl create secret generic" in line for line in kubernetes) == 3
    assert all("--from-file=" in line for line in kubernetes if "create secret" in line)


def _deployment(folder: str) -> dict[str, Any]:
    deployment: dict[str, Any] = yaml.safe_load(
        (ROOT / "deploy/kubernetes" / folder / "deployment.yaml").read_text()
    )
    return deployment


def test_the_kubernetes_script_names_what_the_manifests_use() -> None:
    deployment = _deployment("base")
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "projected" in v]
    secrets = {
        f"{source['secret']['name']} --from-file={item['key']}="
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    text = "\n".join(script("kubernetes", "base"))
    assert all(secret in text for secret in secrets)
    deadline = deployment["spec"]["progressDeadlineSeconds"]
    assert f"{deadline}s" == commands.ROLLOUT_TIMEOUT
    assert f"deployment/{deployment['metadata']['name']}" in text


def test_the_cloud_run_script_names_what_the_service_uses() -> None:
    service = yaml.safe_load((ROOT / cloudrun.TEMPLATE).read_text())
    text = "\n".join(script("cloudrun", ""))
    for volume in service["spec"]["template"]["spec"]["volumes"]:
        assert f"gcloud secrets create {volume['secret']['secretName']} " in text
    assert f"services describe {service['metadata']['name']} " in text
    assert f"{cloudrun.SERVICE_ACCOUNT}@$PROJECT.iam.gserviceaccount.com" in text
