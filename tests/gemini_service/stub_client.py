"""A GeminiClient stand-in for testing the HTTP layer without any SDK or socket."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from gemini_service.clients.base import Generation, Prompt, StreamEvent, TextChunk, TokenUsage

ANSWER = Generation("stub answer", "stub-model", "STOP", TokenUsage(1, 2, 3))


class StubClient:
    """Answers with `ANSWER`, or raises `error`; streams `events` (exceptions are raised)."""

    model = "stub-model"

    def __init__(
        self,
        error: BaseException | None = None,
        events: Sequence[StreamEvent | BaseException] = (TextChunk("stub "), ANSWER),
    ) -> None:
        self.error = error
        self.events = events
        self.prompts: list[Prompt] = []
        self.started = False
        self.closed = False

    async def start(self) -> None:
        self.started = True

    async def generate(self, prompt: Prompt) -> Generation:
        self.prompts.append(prompt)
        if self.error is not None:
            raise self.error
        return ANSWER

    async def stream(self, prompt: Prompt) -> AsyncGenerator[StreamEvent, None]:
        self.prompts.append(prompt)
        for event in self.events:
            if isinstance(event, BaseException):
                raise event
            yield event

    async def aclose(self) -> None:
        self.closed = True
