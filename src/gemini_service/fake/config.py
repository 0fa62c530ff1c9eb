"""The fake's configuration, read from ``FAKE_GEMINI_*`` variables and checked up front.

A wrong fault name or rate fails at startup with the variable named, rather than turning into a
fake that silently never injects what the benchmark or test expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from gemini_service.fake.faults import CATALOGUE

_N = TypeVar("_N", int, float)

DEFAULT_RANDOM_FAULTS = ("rate_limit", "unavailable", "internal")


class ConfigError(ValueError):
    """A ``FAKE_GEMINI_*`` variable has a value the fake cannot use."""


@dataclass(frozen=True)
class FakeConfig:
    """How the fake behaves for every request; per-request directives come on top."""

    api_key: str | None = None
    """If set, the only key accepted; otherwise any non-empty key is."""
    fault: str | None = None
    """A fault applied to every request (``FAKE_GEMINI_FAULT``)."""
    fault_rate: float = 0.0
    """Share of requests, 0..1, that get a random fault from ``faults``."""
    faults: tuple[str, ...] = DEFAULT_RANDOM_FAULTS
    latency_ms: int = 0
    """Added to every answer; also the delay of the ``slow`` fault when set."""
    hang_cap_seconds: float = 300.0
    """How long a ``hang`` holds a connection at most before answering 504."""
    seed: int | None = None
    """Seeds the random fault draw, for reproducible benchmarks."""

    def __post_init__(self) -> None:
        for name in (self.fault, *self.faults):
            if name is not None and name not in CATALOGUE:
                known = ", ".join(CATALOGUE)
                raise ConfigError(f"unknown fault {name!r}; known faults: {known}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError(f"fault rate must be between 0 and 1, got {self.fault_rate}")
        if self.latency_ms < 0:
            raise ConfigError(f"latency must be >= 0 ms, got {self.latency_ms}")
        if self.hang_cap_seconds <= 0:
            raise ConfigError(f"hang cap must be > 0 s, got {self.hang_cap_seconds}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FakeConfig:
        """Read the ``FAKE_GEMINI_*`` variables; blank values count as unset."""
        source = os.environ if env is None else env
        values = {key: value.strip() for key, value in source.items() if value.strip()}
        try:
            return cls(
                api_key=values.get("FAKE_GEMINI_API_KEY"),
                fault=values.get("FAKE_GEMINI_FAULT"),
                fault_rate=_number(values, "FAKE_GEMINI_FAULT_RATE", float, 0.0),
                faults=_names(values.get("FAKE_GEMINI_FAULTS")),
                latency_ms=_number(values, "FAKE_GEMINI_LATENCY_MS", int, 0),
                hang_cap_seconds=_number(values, "FAKE_GEMINI_HANG_CAP_SECONDS", float, 300.0),
                seed=_optional_number(values, "FAKE_GEMINI_SEED", int),
            )
        except ConfigError as error:
            raise ConfigError(f"FAKE_GEMINI_* configuration: {error}") from None


def _number(values: Mapping[str, str], name: str, kind: type[_N], default: _N) -> _N:
    """Parse one numeric variable, naming it in the error."""
    parsed = _optional_number(values, name, kind)
    return default if parsed is None else parsed


def _optional_number(values: Mapping[str, str], name: str, kind: type[_N]) -> _N | None:
    raw = values.get(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def _names(raw: str | None) -> tuple[str, ...]:
    """Split a comma-separated fault list; unset means the default mix."""
    if raw is None:
        return DEFAULT_RANDOM_FAULTS
    return tuple(name.strip() for name in raw.split(",") if name.strip())
