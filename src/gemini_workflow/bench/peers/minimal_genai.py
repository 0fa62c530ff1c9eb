"""Reference: the service an ordinary user would write with FastAPI and google-genai.

One route, one long-lived `genai.Client`, the SDK's defaults, nothing else: no request ids, no
error table, no logging of its own. The bench compares the project's CPU per request with
this program's, so it must stay as plain as the SDK's quickstart.

    GEMINI_API_ENDPOINT=http://127.0.0.1:8001 PORT=8000 python minimal_genai.py
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI
from google import genai
from google.genai import types
from pydantic import BaseModel

MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")

client = genai.Client(
    api_key=os.environ.get("GEMINI_API_KEY", "bench-key"),
    http_options=types.HttpOptions(
        base_url=os.environ["GEMINI_API_ENDPOINT"], api_version="v1beta"
    ),
)
app = FastAPI()


class GenerateRequest(BaseModel):
    prompt: str


class GenerateResponse(BaseModel):
    text: str


@app.post("/generate")
async def generate(body: GenerateRequest) -> GenerateResponse:
    response = await client.aio.models.generate_content(model=MODEL, contents=body.prompt)
    return GenerateResponse(text=response.text or "")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8000")),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
