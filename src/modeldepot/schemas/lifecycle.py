"""A version's lifecycle on the wire: deprecate, revoke, reinstate, and revocation by
dataset (the plan of what it revokes and which protected aliases it rolls back)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from modeldepot.schemas.versions import VersionStatus

MAX_VERSION = 2**31 - 1
MAX_REASON = 1000


class StatusChange(BaseModel):
    """Why a version is revoked or reinstated."""

    reason: str = Field(max_length=MAX_REASON, description="Why; required, kept in the log")


class Deprecation(StatusChange):
    replacement: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        strict=True,
        description="A live, not revoked version of the same model to use instead",
    )


class DatasetRevoke(BaseModel):
    dataset: str = Field(max_length=1000, description="The dataset's URI")
    digest: str | None = Field(
        default=None, max_length=1000, description="One snapshot's digest; all if left out"
    )
    reason: str = Field(max_length=MAX_REASON)
    apply: bool = Field(
        default=False, description="Revoke and open the rollbacks; without it, only the plan"
    )


class PlannedRevocation(BaseModel):
    """A version that used the dataset."""

    model: str
    number: int
    status: VersionStatus = Field(description="Its status before the revocation")
    deleted: bool = False
    permitted: bool = Field(description="Whether the caller may revoke it")


class PlannedRollback(BaseModel):
    """A protected alias pointing at a version the plan revokes."""

    model: str
    alias: str
    version: int = Field(description="The version it points at now")
    target: int | None = Field(
        description="The most recent earlier version in its history that is neither in "
        "the plan nor revoked; None if there is none"
    )
    request: int | None = Field(default=None, description="The rollback request opened")
    note: str = Field(default="", description="Why no request was opened, if none was")


class RevocationPlan(BaseModel):
    dataset: str
    digest: str | None = None
    reason: str
    applied: bool = Field(description="False for a dry run: nothing was changed")
    versions: list[PlannedRevocation]
    aliases: list[PlannedRollback]
