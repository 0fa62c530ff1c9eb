"""What every SDK adapter shares: the deadline, retries and the streaming protocol.

An adapter only says how to make ONE attempt (`_generate_once`, `_stream_once`) and how to
read the SDK's answer into `Fragment`s; this base class turns that into the `GeminiClient`
contract, so both SDKs behave identically where it matters to callers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from gemini_service.clients.base import Generation, Prompt, StreamEvent, TextChunk, TokenUsage
from gemini_service.clients.retry import Deadline, call_with_retries
from gemini_service.errors import UpstreamError


@dataclass(frozen=True)
class Fragment:
    """The SDK-neutral content of one upstream response or stream chunk."""

    text: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    model: str | None = None


class Transcript:
    """Folds fragments into a `Generation`: the last finish reason, usage and model win."""

    def __init__(self, model: str) -> None:
        self._texts: list[str] = []
        self._finish_reason: str | None = None
        self._usage = TokenUsage()
        self._model = model

    def add(self, fragment: Fragment) -> None:
        self._texts.append(fragment.text)
        self._finish_reason = fragment.finish_reason or self._finish_reason
        self._usage = fragment.usage or self._usage
        self._model = fragment.model or self._model

    def result(self) -> Generation:
        """The generation; without a finish reason the answer is malformed or was cut short.

        Gemini always ends an answer with a finish reason, so its absence is how a stream
        truncated by an error shows up, even through an SDK that swallows the error itself.
        """
        if self._finish_reason is None:
            raise UpstreamError("Gemini's answer was incomplete; retry later.")
        return Generation("".join(self._texts), self._model, self._finish_reason, self._usage)


class SdkAdapter(ABC):
    """Base for adapters; subclasses raise only `ServiceError`s from their `_..._once` methods."""

    def __init__(self, *, model: str, timeout_seconds: float, max_retries: int) -> None:
        self._model = model
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries

    @property
    def model(self) -> str:
        return self._model

    async def start(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Nothing to prepare by default; adapters with loop-bound resources build them here."""

    async def generate(self, prompt: Prompt) -> Generation:
        deadline = Deadline(self._timeout_seconds)
        fragment = await call_with_retries(
            lambda: self._generate_once(prompt, deadline),
            deadline=deadline,
            max_retries=self._max_retries,
        )
        transcript = Transcript(self._model)
        transcript.add(fragment)
        return transcript.result()

    async def stream(self, prompt: Prompt) -> AsyncGenerator[StreamEvent, None]:
        """Retry until the first fragment arrives; after that a failure ends the stream."""
        deadline = Deadline(self._timeout_seconds)
        first, fragments = await call_with_retries(
            lambda: self._open_stream(prompt, deadline),
            deadline=deadline,
            max_retries=self._max_retries,
        )
        transcript = Transcript(self._model)
        async with aclosing(fragments):
            fragment: Fragment | None = first
            while fragment is not None:
                transcript.add(fragment)
                if fragment.text:
                    yield TextChunk(fragment.text)
                async with deadline.enforce():
                    fragment = await anext(fragments, None)
        yield transcript.result()

    async def _open_stream(
        self, prompt: Prompt, deadline: Deadline
    ) -> tuple[Fragment, AsyncGenerator[Fragment, None]]:
        """Start a stream and wait for its first fragment, which is when failures show."""
        fragments = self._stream_once(prompt, deadline)
        try:
            first = await anext(fragments, None)
        except BaseException:
            await fragments.aclose()
            raise
        if first is None:
            raise UpstreamError("Gemini ended the stream without an answer; retry later.")
        return first, fragments

    @abstractmethod
    async def _generate_once(self, prompt: Prompt, deadline: Deadline) -> Fragment:
        """One upstream call, SDK errors translated to domain errors."""

    @abstractmethod
    def _stream_once(self, prompt: Prompt, deadline: Deadline) -> AsyncGenerator[Fragment, None]:
        """One upstream stream, SDK errors translated to domain errors."""

    @abstractmethod
    async def aclose(self) -> None: ...
