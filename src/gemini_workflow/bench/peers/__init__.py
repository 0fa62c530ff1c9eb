"""The service's references, as programs: what an ordinary user would write, and the floor.

Each file here is a whole program, started by the bench exactly as the service is: one
uvicorn process (uvloop + httptools) on the runtime venv, reading GEMINI_API_ENDPOINT, PORT
and GEMINI_API_KEY from the environment. They import nothing of this project, so they stay
honest references: minimal_genai.py is FastAPI + google-genai as the SDK's quickstart would
have it, raw_rest.py is FastAPI + one aiohttp session and no SDK (the floor). service_factory.py
is the service itself, as each uvicorn worker builds it when there are several.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

DIRECTORY: Final = Path(__file__).resolve().parent
MINIMAL: Final = DIRECTORY / "minimal_genai.py"
RAW: Final = DIRECTORY / "raw_rest.py"
