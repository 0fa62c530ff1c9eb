# mypy: disable-error-code="name-defined"
# (pydantic's mypy plugin, synthesising RequestConfig's __init__, cannot resolve the `PIL_Image`
# alias google-genai defines only under TYPE_CHECKING; confined to this one small module.)
"""The genai adapter's per-call `GenerateContentConfig`, made cheap for the SDK to read."""

from __future__ import annotations

from functools import lru_cache

from google.genai import types


class RequestConfig(types.GenerateContentConfig):
    """`GenerateContentConfig` whose `in` answers at once.

    The SDK turns a config into JSON by probing each of its ~50 fields with `name in config`
    (`_common.get_value_by_path`) before reading it. A pydantic model has no `__contains__`, so
    every probe iterates all (name, value) pairs, and a name is never equal to a pair: the
    answer is always False. Answering the same without iterating saved about 0.2 ms of CPU per
    call (measured), a fifth of what the SDK spends on one.
    """

    def __contains__(self, item: object) -> bool:
        # Exactly pydantic's answer: only a (name, value) pair can be "in" a model.
        return isinstance(item, tuple) and item in iter(self)


@lru_cache(maxsize=256)
def request_config(temperature: float, max_output_tokens: int) -> types.GenerateContentConfig:
    """Per-call options, built once per pair (the SDK deep-copies a config before using it).

    No per-call http_options: the SDK would deep-copy those too. The deadline is enforced
    around the call (and by the client's HTTP timeout, as a backstop).
    """
    return RequestConfig(
        temperature=temperature,
        max_output_tokens=max_output_tokens,
        automatic_continuation=False,  # one call per attempt, so the deadline math holds
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
