"""The one table mapping domain errors to HTTP statuses, and problem+json rendering.

Every error response is ``application/problem+json`` with a stable ``code``; the
codes are listed in the README and never change meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modeldepot import errors as e
from modeldepot.schemas import Problem, ValidationProblem
from modeldepot.server.requestid import HEADER as REQUEST_ID_HEADER
from modeldepot.server.requestid import current_request_id

log = logging.getLogger("modeldepot.server")

PROBLEM = "application/problem+json"

STATUS: dict[type[e.ModeldepotError], int] = {
    e.InvalidInput: 400,
    e.MetadataTooLarge: 413,
    e.NotFound: 404,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.PolicyInvalid: 400,
    e.AuthRateLimited: 429,
    e.Conflict: 409,
    e.DigestMismatch: 400,
    e.SizeMismatch: 400,
    e.RangeNotSatisfiable: 416,
    e.InsufficientStorage: 507,
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


# What every API operation can answer, whatever it does: its input can break a rule
# (400) or fail validation (422), it needs a credential (401, and 429 after too many
# bad ones) and a role (403), it names things that may not exist (404), any request may
# carry a JSON body over the limit (413), and a bug is a 500.
EVERY_OPERATION = (400, 401, 403, 404, 413, 422, 429, 500)
# What an operation that changes state can answer besides: the state was not as it
# needed to be (409), or the disk it writes to is full (507). Reads never conflict.
_WRITE = (409, 507)
WRITES = {"post": _WRITE, "put": _WRITE, "patch": _WRITE, "delete": _WRITE}

_DESCRIPTIONS = {
    400: "Invalid input: the request breaks a rule (see `code`)",
    401: "No valid credential: none, unknown, expired or revoked (see `code`)",
    403: "The caller lacks the role this needs (see `code`, `permission`)",
    404: "Not found (see `code`)",
    409: "Conflict with the current state (see `code`)",
    413: "Too large: a JSON body over the limit, or metadata over its bounds (see `code`)",
    416: "Range not satisfiable: it starts past the end",
    422: "A field of the request failed validation (`errors` lists them)",
    429: "A limit of this caller's was reached: its open uploads, or its failed "
    "authentications (see `code`, `limit`, `retry_after`)",
    500: "Internal error: a bug, logged by the server under `request_id`",
    507: "Insufficient storage: the blob store's or the database's disk is full (see `resource`)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: the problem document answered with each of ``statuses``."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status) or f"{HTTPStatus(status).phrase} (see `code`)",
            "content": {PROBLEM: {"schema": {"$ref": _REF + _problem_model(status).__name__}}},
        }
        for status in statuses
    }


def document_problems(app: FastAPI, prefix: str) -> None:
    """Make ``app``'s OpenAPI document tell the truth about errors.

    Every operation under ``prefix`` lists the problem documents it can answer
    (``EVERY_OPERATION``, ``WRITES`` by method, and what its route declares with
    ``problems``), each as ``application/problem+json`` with its schema. FastAPI's own
    422 (``application/json``, a body this server never sends) is replaced on every
    operation, inside ``prefix`` or not.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                statuses = [422] if "422" in responses else []
                if path.startswith(prefix):
                    statuses = [*EVERY_OPERATION, *WRITES.get(method, ())]
                responses.update({str(k): v for k, v in problems(*statuses).items()})
                operation["responses"] = dict(sorted(responses.items()))
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, ValidationProblem):
            schema = model.model_json_schema(ref_template=_REF + "{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_REF = "#/components/schemas/"


def _problem_model(status: int) -> type[Problem]:
    return ValidationProblem if status == 422 else Problem


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
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="modeldepot"'
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
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
