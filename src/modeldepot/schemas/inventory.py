"""The inventory: every model with its owner, risk, aliases, data and use."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from modeldepot.schemas.models import RiskLevel


class PullCount(BaseModel):
    number: int
    count: int
    by: dict[str, int] = Field(description="Pulls per actor")


class InventoryEntry(BaseModel):
    name: str
    description: str
    owner: str | None
    contacts: list[str]
    risk_level: RiskLevel | None
    risk_reason: str
    card_completeness: float | None
    aliases: dict[str, int] = Field(description="Alias → version it points at now")
    latest_version: int | None
    version_count: int = Field(description="Live versions")
    last_change: datetime = Field(
        description="Newest of: model updated, version created, alias moved"
    )
    personal_data: list[str] = Field(
        description="URIs of datasets holding personal data used by live versions"
    )
    depends_on: list[str] = Field(description="Models whose versions live versions depend on")
    derived_from: list[str] = Field(description="Models live versions were derived from")
    pulls: list[PullCount] = Field(description="Recorded pulls per version, newest first")
    alias_status: dict[str, str] = Field(
        default_factory=dict,
        description="Alias → status of its version, for aliases pointing at a deprecated "
        "or revoked one",
    )


class Inventory(BaseModel):
    generated_at: datetime
    models: list[InventoryEntry]
