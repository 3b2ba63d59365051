"""The FastAPI exception handlers that give every error of the API the house JSON shape
(:mod:`backend.errors`): the backend's own errors, FastAPI's validation errors, Starlette's HTTP
errors (404, 405) and anything unexpected.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from backend.errors import ApiError, ServiceUnavailable, error_body

log = structlog.get_logger(__name__)


def error_response(status: int, code: str, message: str, **extra: int | str) -> Response:
    """An error response with the house JSON shape."""
    body = error_body(code, message, **extra)
    return Response(body, status_code=status, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app can produce a JSON ``{"error": {"code", "message"}}``."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.code, exc.message, **exc.extra)
    response.headers["Cache-Control"] = "no-store"
    if isinstance(exc, ServiceUnavailable):
        response.headers["Retry-After"] = "1"
    return response


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = " ".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    message = "; ".join(problems) + " (see /openapi.json for the parameters this route takes)"
    return error_response(400, "invalid_parameter", message)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}; see /openapi.json for the API"
        return error_response(404, "not_found", message)
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        return JSONResponse(
            {"error": {"code": "method_not_allowed", "message": message}},
            status_code=405,
            headers=exc.headers,
        )
    return error_response(exc.status_code, "http_error", str(exc.detail))


async def _on_unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("request_failed", method=request.method, path=request.url.path, exc_info=exc)
    message = "the backend failed on this request; the backend log has the details"
    return error_response(500, "internal_error", message)
