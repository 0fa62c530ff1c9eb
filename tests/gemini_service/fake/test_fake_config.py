"""FAKE_GEMINI_* parsing: good values are read, bad ones fail naming the variable."""

from __future__ import annotations

import pytest

from gemini_service.fake.config import DEFAULT_RANDOM_FAULTS, ConfigError, FakeConfig


def test_empty_environment_gives_the_permissive_defaults() -> None:
    config = FakeConfig.from_env({})

    assert config == FakeConfig()
    assert (config.api_key, config.fault, config.fault_rate) == (None, None, 0.0)


def test_every_variable_is_read() -> None:
    config = FakeConfig.from_env(
        {
            "FAKE_GEMINI_API_KEY": "secret",
            "FAKE_GEMINI_FAULT": "slow",
            "FAKE_GEMINI_FAULT_RATE": "0.25",
            "FAKE_GEMINI_FAULTS": "rate_limit, drop",
            "FAKE_GEMINI_LATENCY_MS": "500",
            "FAKE_GEMINI_HANG_CAP_SECONDS": "30",
            "FAKE_GEMINI_SEED": "42",
        }
    )

    assert config == FakeConfig(
        api_key="secret",
        fault="slow",
        fault_rate=0.25,
        faults=("rate_limit", "drop"),
        latency_ms=500,
        hang_cap_seconds=30.0,
        seed=42,
    )


def test_blank_values_count_as_unset() -> None:
    config = FakeConfig.from_env({"FAKE_GEMINI_API_KEY": " ", "FAKE_GEMINI_FAULTS": ""})

    assert config.api_key is None
    assert config.faults == DEFAULT_RANDOM_FAULTS


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("FAKE_GEMINI_FAULT", "nope", "unknown fault 'nope'"),
        ("FAKE_GEMINI_FAULTS", "rate_limit,nope", "unknown fault 'nope'"),
        ("FAKE_GEMINI_FAULT_RATE", "1.5", "between 0 and 1"),
        ("FAKE_GEMINI_FAULT_RATE", "often", "FAKE_GEMINI_FAULT_RATE='often'"),
        ("FAKE_GEMINI_LATENCY_MS", "-1", "latency"),
        ("FAKE_GEMINI_LATENCY_MS", "0.5", "FAKE_GEMINI_LATENCY_MS='0.5' is not a valid int"),
        ("FAKE_GEMINI_HANG_CAP_SECONDS", "0", "hang cap"),
        ("FAKE_GEMINI_SEED", "x", "FAKE_GEMINI_SEED"),
    ],
)
def test_bad_values_fail_with_a_clear_message(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="FAKE_GEMINI_") as caught:
        FakeConfig.from_env({variable: value})

    assert fragment in str(caught.value)
