"""A swarm deploy decided from config, the release record and files: no engine needed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from gemini_workflow import config
from gemini_workflow.deploy import plan as planning
from gemini_workflow.release import ReleaseError, ReleaseRecord
from gemini_workflow.stack import FAKE_UPSTREAM

ROOT = Path(__file__).resolve().parents[3]
DIGEST = "sha256:" + "ab" * 32
REF = f"127.0.0.1:5000/llm-apps/gemini-service@{DIGEST}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repo-shaped directory: the files a plan reads, and a release record."""
    for rel in (
        "pyproject.toml",
        "compose/env/prod.env",
        "compose/placeholder-api-key.txt",
        "compose/nginx/nginx.conf",
        "compose/nginx/start.sh",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((ROOT / rel).read_bytes())
    record = tmp_path / "build/release.json"
    ReleaseRecord(
        image=REF.split("@")[0],
        digest=DIGEST,
        tags=["0.1.0"],
        version="0.1.0",
        revision="0" * 40,
        pushed_at="2026-11-28T00:00:00+00:00",
    ).write(record)
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local/client-keys").write_text("k1\n")
    return tmp_path


def plan(root: Path, **options: object) -> planning.DeployPlan:
    settings = copy.deepcopy(config.DEFAULTS)
    return planning.plan_from_config(settings, root=root, environ={}, **options)  # type: ignore[arg-type]


def test_the_release_comes_from_the_record_by_digest_and_the_fake_answers(root: Path) -> None:
    chosen = plan(root)
    assert str(chosen.app) == REF
    assert chosen.upstream == FAKE_UPSTREAM
    assert chosen.key_file() == root / "compose/placeholder-api-key.txt"
    env = chosen.stack_env()
    assert env["GEMINI_APP_IMAGE"] == REF
    assert (env["GEMINI_APP_REPLICAS"], env["GEMINI_FAKE_REPLICAS"]) == ("2", "1")
    assert env["GEMINI_STACK_PORT"] == "8080"


def test_a_tag_is_refused_because_a_deploy_pins_a_digest(root: Path) -> None:
    with pytest.raises(ReleaseError, match="names a tag, not a digest"):
        plan(root, ref="127.0.0.1:5000/llm-apps/gemini-service:1.2.0")


def test_without_a_record_the_message_says_to_push_first(root: Path) -> None:
    (root / "build/release.json").unlink()
    with pytest.raises(ReleaseError, match="run `invoke push` first"):
        plan(root)


def test_a_real_key_goes_to_google_through_a_private_copy_never_into_the_environment(
    root: Path,
) -> None:
    settings = copy.deepcopy(config.DEFAULTS)
    chosen = planning.plan_from_config(
        settings, root=root, environ={"GEMINI_API_KEY": "AIza-real-key-123"}
    )
    assert chosen.upstream == settings["stack"]["upstream"]
    planning.write_key_copy(chosen)
    copy_file = chosen.key_file()
    assert copy_file.read_text() == "AIza-real-key-123\n"
    assert copy_file.stat().st_mode & 0o777 == 0o600
    env = chosen.stack_env()
    assert "AIza-real-key-123" not in json.dumps(env)
    assert env["GEMINI_FAKE_REPLICAS"] == "0"


def test_secret_and_config_names_change_with_their_content_only(root: Path) -> None:
    before = plan(root).stack_env()
    assert plan(root).stack_env() == before
    (root / ".local/client-keys").write_text("k1\nk2\n")
    after = plan(root).stack_env()
    assert after["GEMINI_CLIENT_KEYS_SECRET"] != before["GEMINI_CLIENT_KEYS_SECRET"]
    assert after["GEMINI_API_KEY_SECRET"] == before["GEMINI_API_KEY_SECRET"]
    assert after["GEMINI_CLIENT_KEYS_SECRET"].startswith("gemini-service_client-keys-")


def test_the_objects_a_plan_uses_are_its_two_secrets_and_two_configs(root: Path) -> None:
    env = plan(root).stack_env()
    assert planning.object_names(env) == {
        env["GEMINI_API_KEY_SECRET"],
        env["GEMINI_CLIENT_KEYS_SECRET"],
        env["GEMINI_NGINX_CONF_CONFIG"],
        env["GEMINI_NGINX_START_CONFIG"],
    }


def test_options_override_config(root: Path) -> None:
    chosen = plan(root, port=9090, replicas=3, env="prod")
    assert (chosen.port, chosen.replicas, chosen.url) == (9090, 3, "http://127.0.0.1:9090")
