"""`uvicorn --factory service_factory:app --workers N`: the service as each worker builds it.

`python -m gemini_service` serves one process; uvicorn needs an import string to start
several. Each worker builds the app exactly as `python -m gemini_service` does (`prepared_app`),
so the two-worker figure measures the same service.
"""

from __future__ import annotations

from fastapi import FastAPI

from gemini_service.__main__ import prepared_app
from gemini_service.settings import load_settings


def app() -> FastAPI:
    return prepared_app(load_settings())
