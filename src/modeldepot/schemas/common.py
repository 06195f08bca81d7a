"""Shapes common to every resource: pages and problems."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass ``next_cursor`` back as ``cursor`` for the next; null at the end."""

    items: list[T]
    next_cursor: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem document; ``code`` is stable and documented.

    Some problems carry more members, e.g. ``missing`` (BLOB_UNKNOWN at commit) or
    ``offset`` (UPLOAD_OFFSET_MISMATCH, UPLOAD_INCOMPLETE).
    """

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable UPPER_SNAKE error code", examples=["MODEL_NOT_FOUND"])
    request_id: str | None = Field(
        default=None, description="The request's id (`X-Request-ID`), as in the server's log"
    )


class FieldError(BaseModel):
    """One field of a request that failed validation."""

    loc: list[str] = Field(
        description="Where the field is: `body`, `query`, `path` or `header`, then its name"
    )
    msg: str


class ValidationProblem(Problem):
    """The problem document of a 422: code `INVALID_INPUT`, every failing field in ``errors``."""

    errors: list[FieldError]
