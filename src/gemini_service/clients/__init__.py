"""Gemini clients behind one small interface (see base.py); pick one with `create_client`."""

from __future__ import annotations

from gemini_service.clients.base import GeminiClient
from gemini_service.settings import Settings


def create_client(settings: Settings) -> GeminiClient:
    """The adapter GEMINI_SDK names; each module (and its SDK) is imported only when asked for."""
    if settings.gemini_sdk == "legacy":
        from gemini_service.clients.legacy import LegacyClient

        return LegacyClient(settings)
    if settings.gemini_sdk == "rest":
        from gemini_service.clients.rest import RestClient

        return RestClient(settings)
    from gemini_service.clients.genai import GenaiClient

    return GenaiClient(settings)
