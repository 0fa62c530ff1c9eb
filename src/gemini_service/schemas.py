"""The HTTP contract: request, response, stream-event and error bodies.

These models are what /docs shows; changing a field here changes the public API.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GenerateRequest(BaseModel):
    """A prompt and optional sampling overrides; unknown fields are rejected to catch typos."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1,
        description="The prompt text: non-blank, at most GEMINI_MAX_PROMPT_CHARS characters.",
        examples=["Write a haiku about containers."],
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature; GEMINI_TEMPERATURE if unset."
    )
    max_output_tokens: int | None = Field(
        default=None,
        ge=1,
        le=8192,
        description="Upper bound on generated tokens; GEMINI_MAX_OUTPUT_TOKENS if unset.",
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value


class Usage(BaseModel):
    """Token counts as reported by Gemini."""

    prompt_tokens: int
    output_tokens: int
    total_tokens: int


class GenerateResponse(BaseModel):
    """A completed generation. A safety block is a success with `blocked` set and no text."""

    text: str
    model: str
    finish_reason: str = Field(examples=["STOP", "MAX_TOKENS", "SAFETY"])
    usage: Usage
    blocked: bool = Field(description="True when Gemini withheld the answer (e.g. SAFETY).")
    request_id: str


class StreamChunk(BaseModel):
    """Data of a `chunk` server-sent event: the next piece of text."""

    text: str


class StreamDone(BaseModel):
    """Data of the final `done` server-sent event."""

    model: str
    finish_reason: str
    usage: Usage
    blocked: bool
    request_id: str


class ErrorDetail(BaseModel):
    """What went wrong, in a shape that is the same for every non-2xx response."""

    code: str = Field(description="Stable snake_case error code; see the README error table.")
    message: str = Field(description="What happened and what to do about it.")
    request_id: str


class ErrorResponse(BaseModel):
    """The body of every non-2xx response, and the data of a stream's `error` event."""

    error: ErrorDetail


class HealthResponse(BaseModel):
    """Liveness: the process serves HTTP. Says nothing about the upstream, on purpose."""

    status: Literal["ok"] = "ok"
