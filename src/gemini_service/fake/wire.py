"""Gemini's REST wire format: reading a GenerateContentRequest, writing GenerateContentResponses.

The fake's answer is an echo of the last user turn, so a test can predict every field: the text,
the token counts (one token per whitespace-separated word) and where ``maxOutputTokens`` cuts.
Field names are the API's camelCase; requests may also use snake_case, as older clients send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gemini_service.fake.faults import ErrorReply, invalid_argument

ECHO_PREFIX = "Echo: "
WORDS_PER_CHUNK = 4
"""How many words each streamed chunk carries, so a short prompt still streams several chunks."""

_WORD = re.compile(r"\S+\s*")
_HARM_CATEGORIES = (
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)


class WireError(Exception):
    """The request cannot be read; carries the 400 Google would answer."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.reply = reply


@dataclass(frozen=True)
class GenerateRequest:
    """The parts of a GenerateContentRequest the fake's answer depends on."""

    texts: tuple[str, ...]
    """Every text part of every turn, the system instruction first, in order."""
    prompt: str
    """The text of the last turn: what gets echoed."""
    max_output_tokens: int | None
    temperature: float | None

    @property
    def prompt_tokens(self) -> int:
        return sum(count_tokens(text) for text in self.texts)


@dataclass(frozen=True)
class Reply:
    """The model's answer before it is put on the wire."""

    text: str
    finish_reason: str
    output_tokens: int


def count_tokens(text: str) -> int:
    """The fake's tokenizer: one token per whitespace-separated word, simple to predict."""
    return len(text.split())


def parse_request(body: bytes) -> GenerateRequest:
    """Validate a GenerateContentRequest body the way Google does, at least for what we read."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WireError(invalid_argument("Invalid JSON payload received.")) from None
    if not isinstance(document, dict):
        raise WireError(invalid_argument("Invalid JSON payload received. Expected an object."))
    contents = document.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireError(
            invalid_argument("* GenerateContentRequest.contents: contents is not specified\n")
        )
    turns = [_turn_texts(turn) for turn in contents]
    instruction = _field(document, "systemInstruction")
    system = _turn_texts(instruction) if instruction is not None else []
    config = _field(document, "generationConfig")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise WireError(invalid_argument("* GenerateContentRequest.generation_config: invalid"))
    return GenerateRequest(
        texts=tuple(system) + tuple(text for turn in turns for text in turn),
        prompt="".join(turns[-1]),
        max_output_tokens=_max_output_tokens(config),
        temperature=_temperature(config),
    )


def _field(document: Mapping[str, Any], camel: str) -> Any:
    """Read a field under its camelCase or snake_case name."""
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return document.get(camel, document.get(snake))


def _turn_texts(turn: Any) -> list[str]:
    """The text parts of one Content; parts of other kinds (images, files) are ignored."""
    parts = turn.get("parts") if isinstance(turn, dict) else None
    if not isinstance(parts, list):
        raise WireError(invalid_argument("* GenerateContentRequest.contents.parts: must be a list"))
    return [part["text"] for part in parts if isinstance(part, dict) and "text" in part]


def _max_output_tokens(config: Mapping[str, Any]) -> int | None:
    value = _field(config, "maxOutputTokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WireError(
            invalid_argument(
                "* GenerateContentRequest.generation_config.max_output_tokens: "
                "max_output_tokens must be positive.\n"
            )
        )
    return value


def _temperature(config: Mapping[str, Any]) -> float | None:
    value = _field(config, "temperature")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise WireError(
            invalid_argument(
                "* GenerateContentRequest.generation_config.temperature: "
                "temperature must be in the range [0.0, 2.0]\n"
            )
        )
    return float(value)


def strip_directives(text: str, pattern: str) -> str:
    """The prompt without fault directives, so the echo shows what the user meant to say."""
    return re.sub(r"\s*" + pattern, "", text).strip()


def echo_reply(request: GenerateRequest, echoed: str) -> Reply:
    """Echo ``echoed``, cut to ``maxOutputTokens`` words with MAX_TOKENS when it is longer."""
    words = _WORD.findall(ECHO_PREFIX + echoed)
    limit = request.max_output_tokens
    if limit is not None and len(words) > limit:
        return Reply("".join(words[:limit]).rstrip(), "MAX_TOKENS", limit)
    return Reply("".join(words).rstrip(), "STOP", len(words))


def response_id(body: bytes) -> str:
    """A stable id per request body, shaped like Google's (22 URL-safe base64 characters)."""
    digest = hashlib.sha256(body).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def usage(prompt_tokens: int, output_tokens: int | None) -> dict[str, Any]:
    """UsageMetadata; the output count is absent when nothing was generated, as Google does."""
    metadata: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    if output_tokens is not None:
        metadata["candidatesTokenCount"] = output_tokens
    metadata["totalTokenCount"] = prompt_tokens + (output_tokens or 0)
    metadata["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt_tokens}]
    return metadata


def text_response(
    request: GenerateRequest, text: str, finish_reason: str | None, output_tokens: int, model: str
) -> dict[str, Any]:
    """A GenerateContentResponse carrying ``text``; ``finish_reason`` is None mid-stream."""
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": usage(request.prompt_tokens, output_tokens),
        "modelVersion": model,
    }


def whole_response(request: GenerateRequest, reply: Reply, model: str) -> dict[str, Any]:
    """The unary answer: the full reply in one GenerateContentResponse."""
    return text_response(request, reply.text, reply.finish_reason, reply.output_tokens, model)


def reply_chunks(request: GenerateRequest, reply: Reply, model: str) -> Iterator[dict[str, Any]]:
    """The reply as streamed chunks: a few words each, running usage, finishReason on the last."""
    words = _WORD.findall(reply.text) or [""]
    starts = range(0, len(words), WORDS_PER_CHUNK)
    for position, start in enumerate(starts, start=1):
        last = position == len(starts)
        piece = "".join(words[start : start + WORDS_PER_CHUNK])
        produced = reply.output_tokens if last else start + WORDS_PER_CHUNK
        finish = reply.finish_reason if last else None
        yield text_response(request, piece, finish, produced, model)


def safety_blocked(request: GenerateRequest, model: str) -> dict[str, Any]:
    """A candidate stopped by the safety filter: finishReason SAFETY, no content at all."""
    ratings: list[dict[str, Any]] = _ratings()
    ratings[-1]["blocked"] = True
    return {
        "candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": ratings}],
        "usageMetadata": usage(request.prompt_tokens, None),
        "modelVersion": model,
    }


def prompt_blocked(request: GenerateRequest, model: str) -> dict[str, Any]:
    """A prompt refused before generation: no candidates, only promptFeedback."""
    ratings = _ratings()
    return {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ratings},
        "usageMetadata": usage(request.prompt_tokens, None),
        "modelVersion": model,
    }


def _ratings() -> list[dict[str, Any]]:
    """Safety ratings where the last category (dangerous content) is the one rated HIGH."""
    ratings: list[dict[str, Any]] = [
        {"category": category, "probability": "NEGLIGIBLE"} for category in _HARM_CATEGORIES
    ]
    ratings[-1]["probability"] = "HIGH"
    return ratings
