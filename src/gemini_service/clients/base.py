"""The one interface the HTTP layer knows: an async Gemini client and its result types.

Adapters for concrete SDKs live next to this module. They return these plain result types
and raise only `gemini_service.errors.ServiceError`s, so no SDK type ever reaches the routes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

BLOCKING_FINISH_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


@dataclass(frozen=True)
class Prompt:
    """What to generate, with request overrides already merged into the configured defaults."""

    text: str
    temperature: float
    max_output_tokens: int


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Generation:
    """A finished answer; for a stream, the summary that follows the last chunk."""

    text: str
    model: str
    finish_reason: str
    usage: TokenUsage

    @property
    def blocked(self) -> bool:
        """Gemini withheld the answer: a normal outcome for the client, not an error."""
        return self.finish_reason in BLOCKING_FINISH_REASONS


@dataclass(frozen=True)
class TextChunk:
    """One piece of a streamed answer."""

    text: str


StreamEvent = TextChunk | Generation


class GeminiClient(Protocol):
    """One long-lived client per process, shared by all requests.

    Both methods apply GEMINI_TIMEOUT_SECONDS as one deadline covering retries, and retry
    only what maps to `UpstreamUnavailable`. A stream yields `TextChunk`s and then exactly one
    `Generation`; an error before the first event is raised from the first `__anext__`.
    """

    @property
    def model(self) -> str:
        """The Gemini model this client calls."""
        ...

    async def start(self) -> None:
        """Get ready to serve: the app awaits this at startup, before it answers any request."""
        ...

    async def generate(self, prompt: Prompt) -> Generation: ...

    def stream(self, prompt: Prompt) -> AsyncGenerator[StreamEvent, None]: ...

    async def aclose(self) -> None:
        """Release connections and threads at shutdown."""
        ...
