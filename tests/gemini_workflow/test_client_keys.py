"""The client key file as the workflow makes and reads it: the service's format, 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gemini_service.client_auth import read_keys
from gemini_workflow import client_keys
from gemini_workflow.errors import WorkflowError


def test_a_missing_key_file_is_made_private_with_one_key_the_service_accepts(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".local" / "client-keys"

    assert client_keys.ensure(path) is True
    assert client_keys.ensure(path) is False  # kept as it is from then on

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (key,) = client_keys.read(path)
    assert len(key) >= 32  # random and long enough to guess by no one
    assert read_keys(path) == [key]  # the service reads the same one key


def test_the_greeting_s_key_skips_what_the_service_skips(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("\n  # revoked 2026-11: old-key\nfirst-key\nsecond-key\n")

    assert client_keys.header(path) == {"Authorization": "Bearer first-key"}
    assert client_keys.read(path) == read_keys(path) == ["first-key", "second-key"]


def test_a_key_file_without_keys_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# all revoked\n")

    with pytest.raises(WorkflowError, match="add one line, or delete the file"):
        client_keys.ensure(path)


def test_a_key_file_is_shown_relative_to_the_checkout_when_inside_it(tmp_path: Path) -> None:
    assert client_keys.shown(tmp_path / ".local/keys", tmp_path) == Path(".local/keys")
    assert client_keys.shown(Path("/etc/keys"), tmp_path) == Path("/etc/keys")


def test_the_printed_header_reads_the_key_in_the_shell_and_the_sent_one_carries_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".local/client-keys"
    client_keys.ensure(path)

    sent, shown = client_keys.headers(path, tmp_path)

    assert sent == {"Authorization": f"Bearer {client_keys.read(path)[0]}"}
    assert shown == {"Authorization": "Bearer $(head -1 .local/client-keys)"}
    assert client_keys.created(path, tmp_path) == (
        "created .local/client-keys with one client key (0600)"
    )
