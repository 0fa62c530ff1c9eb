"""Configuration: every variable validated, the key kept secret, and a clear startup failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemini_service import settings as settings_module
from gemini_service.settings import KEY_HELP, Settings, SettingsError, load_settings


def load(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(_env_file=None)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load({"GEMINI_API_KEY": "k"}, monkeypatch)

    assert settings.api_endpoint == "https://generativelanguage.googleapis.com"
    assert settings.gemini_api_version == "v1beta"
    assert settings.gemini_model == "gemini-2.5-flash"
    assert settings.gemini_timeout_seconds == 30
    assert settings.gemini_max_retries == 2
    assert settings.gemini_max_prompt_chars == 32_000
    assert settings.gemini_max_body_bytes == 1024 * 1024
    assert (settings.gemini_sdk, settings.log_level, settings.port) == ("genai", "INFO", 8000)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GEMINI_API_ENDPOINT", "http://fake-gemini:8001/", "http://fake-gemini:8001"),
        ("GEMINI_API_VERSION", "v1", "v1"),
        ("GEMINI_MODEL", "gemini-2.5-pro", "gemini-2.5-pro"),
        ("GEMINI_TIMEOUT_SECONDS", "2.5", 2.5),
        ("GEMINI_TEMPERATURE", "0", 0.0),
        ("GEMINI_MAX_OUTPUT_TOKENS", "8192", 8192),
        ("GEMINI_MAX_RETRIES", "0", 0),
        ("GEMINI_MAX_PROMPT_CHARS", "100", 100),
        ("GEMINI_MAX_BODY_BYTES", "2048", 2048),
        ("GEMINI_SDK", "Legacy", "legacy"),
        ("GEMINI_SDK", "REST", "rest"),
        ("LOG_LEVEL", "debug", "DEBUG"),
        ("PORT", "9000", 9000),
    ],
)
def test_valid_value_is_accepted(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: object
) -> None:
    settings = load({"GEMINI_API_KEY": "k", variable: value}, monkeypatch)

    attribute = "api_endpoint" if variable == "GEMINI_API_ENDPOINT" else variable.lower()
    assert getattr(settings, attribute) == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GEMINI_API_ENDPOINT", "not a url"),
        ("GEMINI_API_ENDPOINT", "ftp://example.com"),
        ("GEMINI_API_VERSION", "latest"),
        ("GEMINI_MODEL", "../../admin"),
        ("GEMINI_TIMEOUT_SECONDS", "0"),
        ("GEMINI_TIMEOUT_SECONDS", "soon"),
        ("GEMINI_TEMPERATURE", "2.1"),
        ("GEMINI_MAX_OUTPUT_TOKENS", "0"),
        ("GEMINI_MAX_OUTPUT_TOKENS", "8193"),
        ("GEMINI_MAX_RETRIES", "-1"),
        ("GEMINI_MAX_RETRIES", "11"),
        ("GEMINI_MAX_PROMPT_CHARS", "0"),
        ("GEMINI_MAX_BODY_BYTES", "100"),
        ("GEMINI_SDK", "openai"),
        ("LOG_LEVEL", "chatty"),
        ("PORT", "0"),
        ("PORT", "65536"),
    ],
)
def test_invalid_value_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    with pytest.raises(SettingsError) as failure:
        load({"GEMINI_API_KEY": "k", variable: value}, monkeypatch)

    assert str(failure.value).startswith(f"{variable}: ")
    assert "\n" not in str(failure.value)


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_or_blank_key_explains_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    with pytest.raises(SettingsError, match="GEMINI_API_KEY is not set"):
        load({} if key is None else {"GEMINI_API_KEY": key}, monkeypatch)


def test_legacy_sdk_without_its_extra_fails_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_module.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(SettingsError, match=r"GEMINI_SDK: legacy needs .*\[legacy\]"):
        load({"GEMINI_API_KEY": "k", "GEMINI_SDK": "legacy"}, monkeypatch)


def test_key_is_a_secret_never_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load({"GEMINI_API_KEY": "sekrit-123"}, monkeypatch)

    assert settings.gemini_api_key.get_secret_value() == "sekrit-123"
    assert "sekrit-123" not in repr(settings)
    assert "sekrit-123" not in str(settings.model_dump())


def test_key_file_is_read_and_stripped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "gemini_api_key"
    key_file.write_text("from-a-file\n")

    settings = load({"GEMINI_API_KEY_FILE": str(key_file)}, monkeypatch)

    assert settings.gemini_api_key.get_secret_value() == "from-a-file"


@pytest.mark.parametrize(
    ("content", "message"), [(None, "cannot be read"), ("  \n", "is empty")]
)  # fmt: skip
def test_unusable_key_file_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None, message: str
) -> None:
    key_file = tmp_path / "gemini_api_key"
    if content is not None:
        key_file.write_text(content)

    with pytest.raises(SettingsError, match=f"GEMINI_API_KEY_FILE {key_file} {message}"):
        load({"GEMINI_API_KEY_FILE": str(key_file)}, monkeypatch)


def test_key_and_key_file_together_are_ambiguous(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k2")

    with pytest.raises(SettingsError, match="not both"):
        load({"GEMINI_API_KEY": "k1", "GEMINI_API_KEY_FILE": str(key_file)}, monkeypatch)


def test_dotenv_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("GEMINI_API_KEY=from-dotenv\nGEMINI_MODEL=gemini-from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEMINI_MODEL", "gemini-from-env")

    settings = load_settings()

    assert settings.gemini_api_key.get_secret_value() == "from-dotenv"
    assert settings.gemini_model == "gemini-from-env"


def start_service(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m gemini_service` with only `env` (no .env file in `cwd`)."""
    return subprocess.run(
        [sys.executable, "-m", "gemini_service"],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_missing_key_stops_startup_with_one_line(tmp_path: Path) -> None:
    result = start_service({}, tmp_path)

    assert result.returncode != 0
    assert result.stderr == f"gemini-service: configuration error: {KEY_HELP}\n"
    assert result.stdout == ""


def test_invalid_variable_stops_startup_naming_it(tmp_path: Path) -> None:
    result = start_service({"GEMINI_API_KEY": "k", "PORT": "http"}, tmp_path)

    assert result.returncode != 0
    assert result.stderr.startswith("gemini-service: configuration error: PORT: ")
    assert result.stderr.count("\n") == 1
