"""Models: named lines of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RiskLevel = Literal["minimal", "limited", "high", "unacceptable"]
RISK_LEVELS = ("minimal", "limited", "high", "unacceptable")


class ModelCreate(BaseModel):
    name: str = Field(examples=["ads/recommender"])
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    owner: str | None = Field(default=None, max_length=128, examples=["team-ads"])
    contacts: list[str] = Field(default_factory=list, max_length=50)
    risk_level: RiskLevel | None = Field(default=None, description="EU AI Act tier")
    risk_reason: str = Field(default="", max_length=5000)


class ModelUpdate(BaseModel):
    """Fields left out are unchanged; ``tags`` are merged, ``remove_tags`` removed."""

    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    remove_tags: list[str] = Field(default_factory=list)
    owner: str | None = Field(default=None, max_length=128)
    contacts: list[str] | None = Field(default=None, max_length=50)
    risk_level: RiskLevel | None = None
    risk_reason: str | None = Field(default=None, max_length=5000)


class TagSet(BaseModel):
    value: str


class ModelRead(BaseModel):
    name: str
    description: str
    tags: dict[str, str]
    latest_version: int | None = Field(description="Newest live version number, if any")
    owner: str | None = None
    contacts: list[str] = Field(default_factory=list)
    risk_level: RiskLevel | None = None
    risk_reason: str = ""
    card_completeness: float | None = Field(
        default=None, description="Share of the known card sections present, 0 to 1"
    )
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    deleted_at: datetime | None = None
    deleted_by: str | None = None


class CardWrite(BaseModel):
    card: str = Field(description="Markdown, optionally with YAML front matter")


class CardRead(BaseModel):
    card: str | None
    completeness: float | None = Field(description="Share of the known sections present")
    missing: list[str] = Field(description="Known sections the card lacks")
    front_matter: dict[str, Any] = Field(default_factory=dict)
