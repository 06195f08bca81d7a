"""Models: named lines of work."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ModelCreate(BaseModel):
    name: str = Field(examples=["ads/recommender"])
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class ModelUpdate(BaseModel):
    """Fields left out are unchanged; ``tags`` are merged, ``remove_tags`` removed."""

    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    remove_tags: list[str] = Field(default_factory=list)


class TagSet(BaseModel):
    value: str


class ModelRead(BaseModel):
    name: str
    description: str
    tags: dict[str, str]
    latest_version: int | None = Field(description="Newest live version number, if any")
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    deleted_at: datetime | None = None
    deleted_by: str | None = None
