"""Reference floor: FastAPI and one aiohttp session posting straight to generateContent.

No SDK at all: the request body is written by hand and the answer's text read from the JSON.
Whatever a Gemini-backed FastAPI service spends per request, this is about the least it can
be with the same web framework, so the bench prints it as the limit, not as a target.

    GEMINI_API_ENDPOINT=http://127.0.0.1:8001 PORT=8000 python raw_rest.py
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
URL = f"{os.environ['GEMINI_API_ENDPOINT'].rstrip('/')}/v1beta/models/{MODEL}:generateContent"
HEADERS = {"x-goog-api-key": os.environ.get("GEMINI_API_KEY", "bench-key")}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # A session needs a running loop: open it at startup, close it at shutdown. No pool cap
    # (limit=0), like google-genai's own session, so both meet the upstream alike.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as session:
        app.state.session = session
        yield


app = FastAPI(lifespan=lifespan)


class GenerateRequest(BaseModel):
    prompt: str


class GenerateResponse(BaseModel):
    text: str


@app.post("/generate")
async def generate(body: GenerateRequest) -> GenerateResponse:
    payload = {"contents": [{"role": "user", "parts": [{"text": body.prompt}]}]}
    session: aiohttp.ClientSession = app.state.session
    async with session.post(URL, json=payload) as response:
        if response.status != 200:
            raise HTTPException(502, f"Gemini answered {response.status}")
        answer = await response.json()
    parts = answer["candidates"][0]["content"]["parts"]
    return GenerateResponse(text="".join(part.get("text", "") for part in parts))


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
