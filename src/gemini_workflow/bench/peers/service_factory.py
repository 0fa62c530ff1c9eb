"""`uvicorn --factory service_factory:app --workers N`: the service as each worker builds it.

`python -m gemini_service` serves one process; uvicorn needs an import string to start
several. This does what `gemini_service.__main__.main` does before `uvicorn.run`, once per
worker, so the two-worker figure measures the same service.
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from gemini_service import __main__ as entry
from gemini_service.app import create_app
from gemini_service.logs import configure_logging
from gemini_service.settings import load_settings


def app() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, secrets=[settings.gemini_api_key.get_secret_value()])
    gc.set_threshold(*entry.GC_THRESHOLDS)
    return create_app(settings)
