"""The ASGI application factory: wires settings, the Gemini client, routes and error handling.

`create_app(settings)` is what `python -m gemini_service` serves and what tests import; a
`client` may be injected so the HTTP layer can be tested without any SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi_swagger import patch_fastapi
from starlette.exceptions import HTTPException

from gemini_service import __version__
from gemini_service.clients import create_client
from gemini_service.clients.base import GeminiClient
from gemini_service.errors import (
    InvalidRequest,
    ServiceError,
    error_for_http_status,
    markdown_table,
)
from gemini_service.middleware import BodySizeLimit, RequestContext, request_info
from gemini_service.responses import error_response
from gemini_service.routes import create_router
from gemini_service.settings import Settings

DESCRIPTION = f"""\
Text generation with Google Gemini. Every response carries `X-Request-ID`; every non-2xx
response has the body `{{"error": {{"code", "message", "request_id"}}}}` with one of these codes:

{markdown_table()}
"""
MAX_LISTED_PROBLEMS = 5


def create_app(settings: Settings, client: GeminiClient | None = None) -> FastAPI:
    """Build the app; its one Gemini client is created here, started and closed by the lifespan."""
    gemini = client if client is not None else create_client(settings)
    app = FastAPI(
        title="gemini-service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(gemini),
        # FastAPI's own pages load Swagger UI (and ReDoc) from a CDN: blank offline.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    # /docs, with Swagger UI's JavaScript and CSS served by the app from the package.
    patch_fastapi(app, redirect_from_root_to_docs=False)
    app.include_router(create_router(settings, gemini))
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Added last = outermost: the request id and log line wrap everything, the 413 included.
    app.add_middleware(BodySizeLimit, max_bytes=settings.gemini_max_body_bytes)
    app.add_middleware(RequestContext)
    return app


def _lifespan(client: GeminiClient) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the client before the server accepts connections, close it at shutdown.

    uvicorn opens its socket only after startup, so /health answering means /generate can.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await client.start()
        yield
        await client.aclose()

    return lifespan


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    info = request_info(request)
    info.upstream_status = exc.upstream_status
    return error_response(exc, info.request_id)


async def _validation_error(request: Request, exc: Exception) -> Response:
    """Replace FastAPI's 422 body with ours; name fields and rules, never echo the input."""
    assert isinstance(exc, RequestValidationError)
    if not _is_json(request.headers.get("content-type", "")):
        message = "Invalid request: send the body as JSON with Content-Type: application/json."
    else:
        problems = [_describe(error) for error in exc.errors()[:MAX_LISTED_PROBLEMS]]
        message = f"Invalid request: {'; '.join(problems)}. Fix the request and retry."
    return error_response(InvalidRequest(message), request_info(request).request_id)


def _is_json(content_type: str) -> bool:
    """What FastAPI parses as JSON: application/json and application/*+json."""
    media_type = content_type.split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _describe(error: dict[str, object]) -> str:
    if error.get("type") == "json_invalid":
        return "body: not valid JSON"
    location = error.get("loc", ())
    path = ".".join(str(part) for part in location[1:]) if isinstance(location, tuple) else ""
    return f"{path or 'body'}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) and body-parsing errors, in the common error shape."""
    assert isinstance(exc, HTTPException)
    return error_response(error_for_http_status(exc.status_code), request_info(request).request_id)
