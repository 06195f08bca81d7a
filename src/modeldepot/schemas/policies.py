"""Policies and freezes on the wire (docs/policies.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from modeldepot.governance.policyspec import MAX_SOURCE_BYTES


class PolicyApply(BaseModel):
    source: str = Field(max_length=MAX_SOURCE_BYTES, description="The policy as YAML")


class PolicyRead(BaseModel):
    name: str
    version: int
    alias: str
    prefix: str  # "" is every model
    risk_levels: list[str]  # empty: any risk level
    removed: bool  # this version removes the policy
    source: str  # the YAML as applied ("" for a removal)
    spec: dict[str, Any]  # its normalised form
    created_at: datetime
    created_by: str


class FreezeCreate(BaseModel):
    prefix: str = Field(max_length=200, description='A namespace prefix ("" is everything)')
    reason: str = Field(min_length=1, max_length=4000)
    starts_at: datetime | None = Field(default=None, description="Default: now")
    ends_at: datetime | None = Field(default=None, description="Default: until lifted")


class FreezeRead(BaseModel):
    id: int
    prefix: str
    reason: str
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    created_by: str
    lifted_at: datetime | None
    lifted_by: str | None
    active: bool  # in force now


class PolicyDiff(BaseModel):
    name: str
    from_version: int
    to_version: int
    diff: str  # unified diff of the YAML sources; "" when they are the same
