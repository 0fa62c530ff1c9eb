"""Configuration: environment variables (and an optional .env file), validated at startup.

Every variable is checked here, once, so a bad deployment fails before it serves anything,
with a message naming the variable, instead of failing on the first request.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    Field,
    HttpUrl,
    SecretStr,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from gemini_service.client_auth import read_keys

KEY_HELP: Final = (
    "GEMINI_API_KEY is not set: export GEMINI_API_KEY=<your key> "
    "(or set GEMINI_API_KEY_FILE=<path to a file holding it>, the production path)"
)

LEGACY_HELP: Final = "legacy needs google-generativeai: pip install 'gemini-service[legacy]'"

Endpoint = Annotated[HttpUrl, UrlConstraints(allowed_schemes=["http", "https"])]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(Exception):
    """Startup configuration is unusable; the message is one line, fit for a terminal."""


class Settings(BaseSettings):
    """The service's configuration; field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # a shared .env may also configure the fake and the workflow
        frozen=True,
    )

    gemini_api_key: SecretStr
    gemini_api_key_file: Path | None = None
    # Set: /generate and /generate/stream need `Authorization: Bearer <key>`, one key per line.
    gemini_client_keys_file: Path | None = None
    gemini_api_endpoint: Endpoint = HttpUrl("https://generativelanguage.googleapis.com")
    gemini_api_version: str = Field("v1beta", pattern=r"^v\d+(alpha|beta)?\d*$")
    gemini_model: str = Field("gemini-2.5-flash", pattern=r"^[a-z0-9][a-z0-9.\-]{0,99}$")
    gemini_timeout_seconds: float = Field(30.0, gt=0, le=600)
    gemini_temperature: float = Field(1.0, ge=0, le=2)
    gemini_max_output_tokens: int = Field(2048, ge=1, le=8192)
    gemini_max_retries: int = Field(2, ge=0, le=10)
    gemini_max_prompt_chars: int = Field(32_000, ge=1, le=1_000_000)
    gemini_max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    gemini_sdk: Literal["genai", "legacy", "rest"] = "genai"
    log_level: LogLevel = "INFO"
    port: int = Field(8000, ge=1, le=65535)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        """Operators write `info` as often as `INFO`; neither is worth a failed deploy."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("gemini_sdk", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("gemini_sdk")
    @classmethod
    def _sdk_installed(cls, value: str) -> str:
        """The legacy SDK is an optional extra: say how to get it before serving, not on use."""
        if value == "legacy" and importlib.util.find_spec("google.generativeai") is None:
            raise ValueError(LEGACY_HELP)
        return value

    @field_validator("gemini_client_keys_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """compose passes an empty value when client keys are off (`invoke up` without --auth)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("gemini_client_keys_file")
    @classmethod
    def _keys_readable(cls, value: Path | None) -> Path | None:
        """An unreadable or empty key file stops startup, as a missing Gemini key does."""
        if value is not None:
            read_keys(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _resolve_key(cls, data: Any) -> Any:
        """Read the key from GEMINI_API_KEY_FILE when given, so it never sits in the environment.

        Runs before field validation so a missing key gets one clear message (KEY_HELP)
        instead of pydantic's generic "Field required".
        """
        if not isinstance(data, dict):
            return data
        key = _plain(data.get("gemini_api_key"))
        key_file = data.get("gemini_api_key_file")
        if key_file:
            if key:
                raise ValueError("set GEMINI_API_KEY or GEMINI_API_KEY_FILE, not both")
            key = _read_key_file(Path(key_file))
        if not key:
            raise ValueError(KEY_HELP)
        return {**data, "gemini_api_key": key}

    @property
    def api_endpoint(self) -> str:
        """The endpoint as the SDKs want it: no trailing slash."""
        return str(self.gemini_api_endpoint).rstrip("/")


def _plain(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value.strip() if isinstance(value, str) else ""


def _read_key_file(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"GEMINI_API_KEY_FILE {path} cannot be read: {exc.strerror}") from None
    if not key:
        raise ValueError(f"GEMINI_API_KEY_FILE {path} is empty")
    return key


def load_settings(**overrides: Any) -> Settings:
    """Build Settings or raise SettingsError with a one-line, secret-free explanation."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError("; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: ErrorDetails) -> str:
    """Name the variable and the rule; never echo the input, which may be the key."""
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # model-level checks already name their variables
        return message
    variable = str(error["loc"][0]).upper()
    return f"{variable}: {message}"
