"""Stack decisions from plain values: env file, key, upstream, images, the compose project."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from gemini_workflow import stack
from gemini_workflow.compose import PUBLISH_ALL
from gemini_workflow.stack import FAKE_UPSTREAM, ApiKey, StackError
from tests.gemini_workflow.stack_support import IMAGES, REAL, plan


def test_env_file_parser_handles_comments_quotes_and_export(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text(
        "# comment\n\nexport A=1\nB='two words'\nC=\"3\"\nD=\nnot a pair\nE = spaced \n"
    )
    assert stack.read_env_file(path) == {
        "A": "1",
        "B": "two words",
        "C": "3",
        "D": "",
        "E": "spaced",
    }


def test_no_key_anywhere_selects_the_fake_and_says_so(root: Path) -> None:
    chosen = plan(root)
    assert chosen.upstream == FAKE_UPSTREAM
    assert not chosen.uses_real_key
    assert chosen.secret_file() == root / "compose" / "placeholder-api-key.txt"
    assert "fake-gemini" in chosen.summary()
    assert "\n" not in chosen.summary()


def test_key_in_environment_selects_the_real_upstream(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    assert chosen.upstream == REAL
    assert chosen.uses_real_key
    assert chosen.key == ApiKey("GEMINI_API_KEY (the environment)", "AIza-secret")
    assert "AIza-secret" not in chosen.summary()
    assert "AIza-secret" not in repr(chosen)


def test_key_in_dotenv_is_found_when_environment_has_none(root: Path) -> None:
    (root / ".env").write_text("GEMINI_API_KEY=from-dotenv\n")
    key = stack.find_api_key({}, root / ".env")
    assert key is not None
    assert key.value == "from-dotenv"
    assert ".env" in key.origin


def test_environment_key_wins_over_dotenv(root: Path) -> None:
    (root / ".env").write_text("GEMINI_API_KEY=from-dotenv\n")
    key = stack.find_api_key({"GEMINI_API_KEY": "from-env"}, root / ".env")
    assert key is not None
    assert key.value == "from-env"


def test_blank_key_as_in_env_example_counts_as_no_key(root: Path) -> None:
    (root / ".env").write_text("GEMINI_API_KEY=\n")
    assert stack.find_api_key({"GEMINI_API_KEY": "  "}, root / ".env") is None


def test_key_file_is_copied_so_the_containers_user_can_read_it(root: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("from-a-file\n")
    key_file.chmod(0o600)
    chosen = plan(root, environ={"GEMINI_API_KEY_FILE": str(key_file)})
    assert chosen.key == ApiKey("GEMINI_API_KEY_FILE (the environment)", "from-a-file")
    copy = stack.write_secret(chosen)
    assert copy == chosen.state_dir / "gemini_api_key"
    assert copy.read_text() == "from-a-file\n"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o644


def test_key_file_wins_over_a_key_in_the_same_place(root: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("file\n")
    key = stack.find_api_key(
        {"GEMINI_API_KEY_FILE": str(key_file), "GEMINI_API_KEY": "env"}, root / ".env"
    )
    assert key is not None
    assert key.value == "file"


def test_unreadable_key_file_is_an_error_naming_the_path(root: Path) -> None:
    with pytest.raises(StackError, match=r"/nope/key cannot be read"):
        stack.find_api_key({"GEMINI_API_KEY_FILE": "/nope/key"}, root / ".env")


def test_empty_key_file_is_an_error(root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(StackError, match="is empty"):
        stack.find_api_key({"GEMINI_API_KEY_FILE": str(empty)}, root / ".env")


def test_test_env_pins_the_fake_even_with_a_real_key(root: Path) -> None:
    chosen = plan(root, env="test", environ={"GEMINI_API_KEY": "real"})
    assert chosen.upstream == FAKE_UPSTREAM
    assert chosen.secret_file().name == "placeholder-api-key.txt"
    assert not chosen.uses_real_key
    assert "pins the upstream" in chosen.summary()
    assert "placeholder" in chosen.summary()


def test_env_can_be_a_path_to_an_env_file(root: Path, tmp_path: Path) -> None:
    custom = tmp_path / "broken.env"
    custom.write_text("GEMINI_TEMPERATURE=hot\n")
    chosen = plan(root, env=str(custom))
    assert chosen.env_file == custom.resolve()
    assert chosen.env_name == "broken"


def test_unknown_env_lists_the_known_ones(root: Path) -> None:
    with pytest.raises(StackError, match=r"unknown environment 'prod'.*dev, test"):
        plan(root, env="prod")


def test_secret_file_is_private_dir_readable_file_and_forgotten(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    path = stack.write_secret(chosen)
    assert path.read_text() == "AIza-secret\n"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # read by the container's uid 10001
    assert path.is_relative_to(root / ".local")
    stack.forget_secret(root, chosen.project)
    assert not path.exists()


def test_compose_env_carries_paths_and_names_but_never_the_key(root: Path) -> None:
    chosen = plan(root, environ={"GEMINI_API_KEY": "AIza-secret"})
    env = chosen.compose_env()
    assert "AIza-secret" not in " ".join(env.values())
    assert env["GEMINI_UPSTREAM"] == REAL
    assert env["GEMINI_PROXY_PORT"] == "18080"
    assert env["GEMINI_APP_IMAGE"] == IMAGES.app
    assert env["GEMINI_STACK_ENV_FILE"] == str(root / "compose" / "env" / "dev.env")
    assert env["GEMINI_API_KEY_SECRET_FILE"].endswith("gs-unit/gemini_api_key")


def test_url_uses_loopback_when_bound_to_all_interfaces(root: Path) -> None:
    chosen = stack.StackPlan(**{**plan(root).__dict__, "bind": "0.0.0.0"})  # noqa: S104
    assert chosen.url == "http://127.0.0.1:18080"


def test_configured_upstream_takes_the_real_key_whatever_its_name(root: Path) -> None:
    chosen = stack.plan_stack(
        root=root,
        project="gs-unit",
        env="dev",
        port=1,
        bind="127.0.0.1",
        images=IMAGES,
        real_upstream=FAKE_UPSTREAM + "/",
        environ={"GEMINI_API_KEY": "k"},
    )
    assert chosen.upstream == FAKE_UPSTREAM
    assert chosen.uses_real_key
    assert chosen.secret_file().name == "gemini_api_key"
    assert "the key from GEMINI_API_KEY (the environment)" in chosen.summary()


def test_the_plan_s_compose_project_carries_the_plan_s_name_variables_and_overlays(
    root: Path,
) -> None:
    chosen = stack.StackPlan(**{**plan(root).__dict__, "overlays": (PUBLISH_ALL,)})
    project = chosen.compose()
    assert project.name == "gs-unit"
    assert project.env == chosen.compose_env()
    assert project.command("ps")[-3:] == ["-f", str(root / PUBLISH_ALL), "ps"]


def test_overlay_variables_reach_compose_next_to_the_plan_s_own(root: Path) -> None:
    chosen = dataclasses.replace(plan(root), overlay_env={"GEMINI_DEV_APP_IMAGE": "app:dev"})
    env = chosen.compose_env()
    assert env["GEMINI_DEV_APP_IMAGE"] == "app:dev"
    assert env["GEMINI_APP_IMAGE"] == IMAGES.app
    assert "GEMINI_DEV_APP_IMAGE" not in plan(root).compose_env()
