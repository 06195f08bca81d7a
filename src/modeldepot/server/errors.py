"""The one table mapping domain errors to HTTP statuses, and problem+json rendering.

Every error response is ``application/problem+json`` with a stable ``code``; the
codes are listed in the README and never change meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modeldepot import errors as e
from modeldepot.schemas import Problem
from modeldepot.server.requestid import HEADER as REQUEST_ID_HEADER
from modeldepot.server.requestid import current_request_id

log = logging.getLogger("modeldepot.server")

PROBLEM = "application/problem+json"

STATUS: dict[type[e.ModeldepotError], int] = {
    e.InvalidInput: 400,
    e.MetadataTooLarge: 413,
    e.NotFound: 404,
    e.Conflict: 409,
    e.DigestMismatch: 400,
    e.SizeMismatch: 400,
    e.RangeNotSatisfiable: 416,
    e.BlobTooLarge: 413,
    e.TooManyUploads: 429,
    e.StagingFull: 503,
    e.LimitExceeded: 429,
    e.ModeldepotError: 500,
}

HTTP_CODES = {
    400: "INVALID_INPUT",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    411: "LENGTH_REQUIRED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def problem_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of the problem responses every API route may give."""
    documented = {400: "Invalid input", 404: "Not found", 409: "Conflict", 413: "Too large"}
    return {
        status: {
            "description": f"{text} (see `code`)",
            "content": {PROBLEM: {"schema": Problem.model_json_schema()}},
        }
        for status, text in documented.items()
    }


def status_for(exc: e.ModeldepotError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if k not in body})
    headers = dict(headers or {})
    if code == e.UploadOffsetMismatch.code and "offset" in extra:
        headers["Upload-Offset"] = str(extra["offset"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.ModeldepotError)
    async def _domain(request: Request, exc: e.ModeldepotError) -> JSONResponse:
        return problem(status_for(exc), exc.code, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem(422, "INVALID_INPUT", "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        title = code.replace("_", " ").capitalize()
        detail = str(exc.detail)
        return problem(exc.status_code, code, title, detail, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Sent from outside the telemetry middleware, which adds this header elsewhere.
        request_id = current_request_id()
        return problem(
            500,
            "INTERNAL_ERROR",
            "Internal error",
            "the server failed; see its log",
            headers={REQUEST_ID_HEADER: request_id} if request_id else None,
        )
