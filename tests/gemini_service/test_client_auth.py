"""Client keys: with GEMINI_CLIENT_KEYS_FILE set, /generate needs `Authorization: Bearer <key>`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gemini_service.client_auth import ClientKeyError, ClientKeys, read_keys
from gemini_service.settings import SettingsError, load_settings
from tests.gemini_service.service_support import asgi_client, build_settings
from tests.gemini_service.stub_client import StubClient

GOOD, OTHER, REVOKED = "k-good-4f1c2a", "k-other-91bd0e", "k-revoked-77aa31"
PROMPT = {"prompt": "hi"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "client-keys"
    path.write_text(f"# the team's keys\n{GOOD}\n\n{OTHER}\n")
    return path


@pytest.fixture
async def service(keys: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(build_settings(gemini_client_keys_file=keys), StubClient()) as client:
        yield client


async def test_no_key_is_401_unauthorized_in_the_error_shape_with_www_authenticate(
    service: httpx.AsyncClient,
) -> None:
    answer = await service.post("/generate", json=PROMPT, headers={"X-Request-ID": "r-401"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="gemini-service"'
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.json()["error"]["request_id"] == "r-401"


@pytest.mark.parametrize(
    "headers",
    [bearer("k-unknown"), {"Authorization": GOOD}, {"Authorization": f"Basic {GOOD}"}],
    ids=["unknown key", "no scheme", "other scheme"],
)
async def test_a_wrong_key_or_scheme_is_401(
    service: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await service.post("/generate", json=PROMPT, headers=headers)
    assert answer.status_code == 401


async def test_every_key_of_the_file_is_accepted_on_both_generate_endpoints(
    service: httpx.AsyncClient,
) -> None:
    assert (await service.post("/generate", json=PROMPT, headers=bearer(GOOD))).status_code == 200
    assert (await service.post("/generate", json=PROMPT, headers=bearer(OTHER))).status_code == 200
    stream = await service.post("/generate/stream", json=PROMPT)
    assert stream.status_code == 401
    stream = await service.post("/generate/stream", json=PROMPT, headers=bearer(GOOD))
    assert stream.status_code == 200


async def test_health_stays_open_without_a_key(service: httpx.AsyncClient) -> None:
    assert (await service.get("/health")).status_code == 200


async def test_without_a_key_file_no_key_is_needed() -> None:
    async with asgi_client(build_settings(), StubClient()) as client:
        assert (await client.post("/generate", json=PROMPT)).status_code == 200


async def test_the_key_appears_in_no_response_and_no_log_line(
    service: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        await service.post("/generate", json=PROMPT, headers=bearer(GOOD)),
        await service.post("/generate", json=PROMPT, headers=bearer(REVOKED)),
    ]
    for answer in answers:
        assert GOOD not in answer.text
        assert REVOKED not in answer.text
        assert not any(GOOD in v or REVOKED in v for v in answer.headers.values())
    assert GOOD not in caplog.text
    assert REVOKED not in caplog.text


def test_the_openapi_schema_documents_the_bearer_key(keys: Path) -> None:
    from gemini_service.app import create_app

    schema = create_app(build_settings(gemini_client_keys_file=keys), StubClient()).openapi()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/generate"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]
    assert "401" in schema["paths"]["/generate"]["post"]["responses"]


# --- the key file ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_edited_file_takes_effect_within_a_second_without_a_restart(keys: Path) -> None:
    clock = Clock()
    accepted = ClientKeys(keys, clock=clock)
    assert accepted.allows(GOOD)
    keys.write_text(f"{OTHER}\n{REVOKED}x\n")  # GOOD revoked, a new key added
    assert accepted.allows(GOOD), "re-read at most once a second"
    clock.now = 1.5
    assert not accepted.allows(GOOD)
    assert accepted.allows(f"{REVOKED}x")


def test_a_file_emptied_by_mistake_keeps_the_last_good_keys_and_says_so(
    keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    accepted = ClientKeys(keys, clock=clock)
    keys.write_text("\n# nobody\n")
    clock.now = 2.0
    assert accepted.allows(GOOD)
    assert "client keys not reloaded" in caplog.text


def test_an_empty_or_missing_key_is_never_accepted(keys: Path) -> None:
    accepted = ClientKeys(keys)
    assert not accepted.allows(None)
    assert not accepted.allows("")


def test_comments_and_blank_lines_are_not_keys(keys: Path) -> None:
    assert read_keys(keys) == [GOOD, OTHER]


def test_a_key_file_without_keys_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "keys"
    empty.write_text("# none yet\n")
    with pytest.raises(ClientKeyError, match="holds no key"):
        read_keys(empty)


def test_an_unusable_key_file_stops_startup_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"GEMINI_CLIENT_KEYS_FILE: .*cannot be read"):
        load_settings(gemini_api_key="k", gemini_client_keys_file=tmp_path / "absent")


def test_an_empty_setting_means_no_client_keys() -> None:
    settings = load_settings(gemini_api_key="k", gemini_client_keys_file="  ", _env_file=None)
    assert settings.gemini_client_keys_file is None
