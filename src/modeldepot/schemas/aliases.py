"""Aliases: mutable named pointers to versions, with their history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from modeldepot.schemas.versions import VersionStatus

MAX_VERSION = 2**31 - 1


class AliasSet(BaseModel):
    version: int = Field(ge=1, le=MAX_VERSION, strict=True)
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_VERSION,
        strict=True,
        description="Move only if the alias currently points here (0: only if it is unset)",
    )


class AliasRead(BaseModel):
    model: str
    name: str
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    version_status: VersionStatus = Field(
        default="active", description="The status of the version the alias points at"
    )
    # Moves only by applying a promotion request (docs/protection.md).
    protected: bool = False


class AliasEventRead(BaseModel):
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    at: datetime
    actor: str
    request: int | None = None  # the promotion request whose application moved it
