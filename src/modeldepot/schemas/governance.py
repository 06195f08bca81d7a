"""Governance on the wire: protection rules, promotion requests, reviews, checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from modeldepot.schemas.lineage import MetricSlice

MAX_VERSION = 2**31 - 1
RequestState = Literal[
    "open", "approved", "rejected", "cancelled", "superseded", "applied", "expired"
]
# pass: met; fail: not met (and cannot become met by waiting alone); pending: not met
# yet (a review, a check, soak time); waived: not met, waived by someone allowed to.
RequirementState = Literal["pass", "fail", "pending", "waived"]


class MetricsAdd(BaseModel):
    metrics: dict[str, float] = Field(default_factory=dict, description="Headline metrics")
    slices: list[MetricSlice] = Field(
        default_factory=list, description="Metrics per slice and/or per dataset"
    )


class ProtectionCreate(BaseModel):
    kind: Literal["model", "prefix"]
    scope: str = Field(max_length=200, description='A model name, or a prefix ("" is all)')
    alias: str = Field(max_length=63)


class ProtectionRead(BaseModel):
    kind: str
    scope: str
    alias: str
    created_at: datetime
    created_by: str


class RequestCreate(BaseModel):
    version: int = Field(ge=1, le=MAX_VERSION, strict=True)
    alias: str = Field(max_length=63)
    reason: str = Field(default="", max_length=4000)


class RollbackCreate(BaseModel):
    alias: str = Field(max_length=63)
    reason: str = Field(default="", max_length=4000)


class ReviewCreate(BaseModel):
    verdict: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=4000)


class CommentCreate(BaseModel):
    body: str = Field(min_length=1, max_length=10000)


class CloseRequest(BaseModel):
    reason: str = Field(default="", max_length=4000)


class WaiverCreate(BaseModel):
    requirement: str = Field(max_length=200, description='A requirement key, e.g. "rule:auc"')
    reason: str = Field(min_length=1, max_length=4000)
    expires_in_hours: float = Field(gt=0, le=24 * 365)


class CheckCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    state: Literal["pending", "pass", "fail"]
    digest: str = Field(max_length=71, description="The version's digest the check ran on")
    url: str = Field(default="", max_length=2000)
    details: str = Field(default="", max_length=10000)


class CheckRead(BaseModel):
    model: str
    version: int
    name: str
    state: str
    digest: str
    url: str
    details: str
    posted_by: str
    at: datetime


class RequirementResult(BaseModel):
    """One requirement of a request's policy as last evaluated."""

    key: str  # stable within a policy: "approvals:risk", "rule:auc", "check:bias-audit"
    kind: str  # approvals | rule | check | stage | window | freeze | status
    state: RequirementState
    message: str
    expression: str | None = None
    input: Any = None  # what the evaluation saw
    waiver: dict[str, Any] | None = None


class ReviewRead(BaseModel):
    principal: str
    verdict: str
    revision: int
    groups: list[str]
    comment: str
    at: datetime
    counts: bool  # still counts: this revision, not expired


class CommentRead(BaseModel):
    principal: str
    body: str
    at: datetime


class WaiverRead(BaseModel):
    requirement: str
    reason: str
    expires_at: datetime
    created_at: datetime
    created_by: str


class RequestRead(BaseModel):
    id: int
    model: str
    alias: str
    version: int
    base_version: int | None
    kind: str
    reason: str
    state: RequestState
    revision: int
    requested_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    policy: str | None  # "name@version", None when no policy applies
    auto_apply: bool
    passed: bool  # every requirement met (or waived) at the last evaluation
    evaluated_at: datetime | None
    requirements: list[RequirementResult]
    missing: list[str]  # what still stands between the request and its application


class RequestDetail(RequestRead):
    reviews: list[ReviewRead]
    comments: list[CommentRead]
    waivers: list[WaiverRead]
    checks: list[CheckRead]
    diff: Any = None  # the version against the alias's current version (version diff)
