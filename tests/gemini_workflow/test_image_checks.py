"""Whether a built image is fit to ship: budgets, user, health check, and no secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gemini_workflow import image_checks, images
from tests.gemini_workflow.image_samples import BASE, BUDGETS, HISTORY, inspect_data

ROOT = Path(__file__).resolve().parents[2]


# --- secrets -----------------------------------------------------------------------------


def test_the_real_dockerfile_declares_no_secret_looking_names() -> None:
    assert image_checks.dockerfile_secret_names((ROOT / images.DOCKERFILE).read_text()) == []


def test_secret_looking_arg_and_env_names_are_found() -> None:
    dockerfile = (
        "FROM x\nARG API_TOKEN\nARG VERSION=1 GITHUB_PAT_TOKEN=2\n"
        "ENV DB_PASSWORD=hunter2 \\\n    PORT=8000\nENV LEGACY_SECRET value\n"
        "ENV GEMINI_API_KEY_FILE=/run/secrets/key\n"
    )
    assert image_checks.dockerfile_secret_names(dockerfile) == [
        "ARG API_TOKEN",
        "ARG GITHUB_PAT_TOKEN",
        "ENV DB_PASSWORD",
        "ENV LEGACY_SECRET",
    ]


def test_clean_image_has_no_secret_findings() -> None:
    assert image_checks.find_secrets(inspect_data(), HISTORY) == []


def test_the_official_python_images_own_metadata_is_not_a_secret() -> None:
    """Public key IDs and checksums in python:*-slim must not fail every online build."""
    env = [
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "PYTHON_VERSION=3.11.14",
        "PYTHON_SHA256=8d3ed8ec5c88c1c95f5e558612a725450d2452813ddad5e58fdb1a53b1209b78",
    ]
    history = [
        {"CreatedBy": "ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D"},
        {"CreatedBy": '/bin/sh -c gpg --batch --recv-keys "$GPG_KEY"; export GNUPGHOME'},
    ]
    assert image_checks.find_secrets(inspect_data(Env=env), history) == []


@pytest.mark.parametrize(
    ("where", "inspect", "history"),
    [
        ("history", inspect_data(), [{"CreatedBy": "|1 API_KEY=abcd1234 /bin/sh -c make"}]),
        ("env", inspect_data(Env=["SERVICE_TOKEN=s3cr3tvalue"]), []),
        ("label", inspect_data(Labels={"k": "AIza" + "A" * 35}), []),
        ("history", inspect_data(), [{"CreatedBy": "RUN echo -----BEGIN RSA PRIVATE KEY-----"}]),
    ],
)
def test_secret_looking_values_are_found(where: str, inspect: Any, history: Any) -> None:
    findings = image_checks.find_secrets(inspect, history)
    assert findings
    assert all(where in finding for finding in findings)


def test_the_callers_key_value_is_found_anywhere() -> None:
    inspect = inspect_data(Labels={"note": "built with my-own-key-123"})
    assert image_checks.find_secrets(inspect, [], known=["my-own-key-123"]) == [
        "the value of GEMINI_API_KEY in label note"
    ]


def test_findings_never_echo_the_secret() -> None:
    findings = image_checks.find_secrets(inspect_data(Env=["SERVICE_TOKEN=s3cr3tvalue"]), [])
    assert "s3cr3tvalue" not in " ".join(findings)


def test_stream_search_finds_needles_across_chunk_borders() -> None:
    chunks = [b"....CANA", b"RY....", b"x"]
    assert image_checks.find_in_stream(chunks, [b"CANARY", b"absent"]) == {b"CANARY"}
    assert image_checks.find_in_stream(chunks, []) == set()


def test_caller_api_key_becomes_a_known_secret_only_when_plausible() -> None:
    assert image_checks.known_secret_values({"GEMINI_API_KEY": "AIzaSomethingLong"}) == [
        "AIzaSomethingLong"
    ]
    assert image_checks.known_secret_values({"GEMINI_API_KEY": "x"}) == []
    assert image_checks.known_secret_values({}) == []


# --- policies and report ------------------------------------------------------------------


def test_a_good_image_passes_and_is_measured() -> None:
    report = image_checks.examine("app", inspect_data(), HISTORY, BASE, BUDGETS)
    assert report.problems == []
    assert report.layers == 4
    assert report.added == report.size - 169_000_000
    assert [size for size, _ in report.biggest] == [169_000_000, 60_200_000, 211_000]
    assert report.biggest[0][1] == "(base image)"


@pytest.mark.parametrize(
    ("inspect", "problem"),
    [
        (inspect_data(size_mb=301), "budget 300 MB"),
        (inspect_data(size_mb=270), "over the base > budget 100 MB"),
        (inspect_data(layers=9), "9 layers > budget 8"),
        (inspect_data(User=""), "runs as root"),
        (inspect_data(User="0:0"), "runs as root"),
        (inspect_data(User="root"), "runs as root"),
        (inspect_data(Healthcheck=None), "no HEALTHCHECK"),
        (inspect_data(Healthcheck={"Test": ["NONE"]}), "no HEALTHCHECK"),
        (inspect_data(Env=["AUTH_TOKEN=abcdefgh"]), "possible secret"),
    ],
)
def test_each_policy_violation_is_reported(inspect: Any, problem: str) -> None:
    report = image_checks.examine("app", inspect, HISTORY, BASE, BUDGETS)
    assert any(problem in p for p in report.problems), report.problems


def test_report_table_shows_size_growth_layers_and_biggest_layers() -> None:
    report = image_checks.examine("app", inspect_data(), HISTORY, BASE, BUDGETS)
    report.tags = ["gemini-service:1.2.3"]
    console = Console(width=160, record=True)
    console.print(image_checks.report_table([report]))
    text = console.export_text()
    assert "gemini-service:1.2.3" in text
    assert "230.0 MB" in text
    assert "+61.0 MB" in text
    assert "COPY /opt/venv /opt/venv" in text


def test_history_lines_are_shortened_to_their_gist() -> None:
    line = "|2 PYTHON_VERSION=3.11 INDEX_OPTIONS= /bin/sh -c python3 -m venv /opt/venv # buildkit"
    assert image_checks.short(line) == "python3 -m venv /opt/venv"
    assert image_checks.short("x" * 100, 10) == "x" * 9 + "…"
