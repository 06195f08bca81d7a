"""Versions: immutable manifests of files plus metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from modeldepot.manifest import ManifestEntry
from modeldepot.schemas.lineage import LineageWrite

# active: usable; deprecated: usable with a warning naming the replacement; revoked:
# must not be used (pulls refused unless explicitly allowed). See docs/lifecycle.md.
VersionStatus = Literal["active", "deprecated", "revoked"]
# A parameter: a scalar, or nested JSON objects and lists (the configuration as written).
ParamValue = Any


class FileEntry(BaseModel):
    path: str
    size: int = Field(strict=True)
    digest: str = Field(examples=["sha256:" + "0" * 64])
    media_type: str | None = None

    def to_entry(self) -> ManifestEntry:
        return ManifestEntry(self.path, self.size, self.digest, self.media_type)


class VersionCreate(BaseModel):
    """Commit a new version whose blobs are all uploaded."""

    files: list[FileEntry]
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    params: dict[str, ParamValue] = Field(
        default_factory=dict,
        description="Configuration: scalars or nested JSON; search reaches every scalar leaf "
        "by its dotted path (`params.optimizer.lr`)",
    )
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: LineageWrite = Field(default_factory=LineageWrite)
    card: str | None = Field(default=None, description="The version's own model card (Markdown)")
    push_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Client-chosen id; repeating a commit with the same id returns the "
        "version it created instead of creating another.",
    )
    aliases: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Aliases to point at the new version in the same transaction (needs the "
        "role that moves aliases): the version and its aliases land together or not at all.",
    )


class VersionRead(BaseModel):
    model: str
    number: int
    digest: str = Field(description="sha256 of the manifest's canonical serialisation")
    description: str
    tags: dict[str, str]
    params: dict[str, ParamValue]
    metrics: dict[str, float]
    aliases: list[str]
    total_size: int
    file_count: int
    format: str | None = None
    card_completeness: float | None = None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    status: VersionStatus = "active"
    status_reason: str | None = Field(
        default=None, description="Why the status was last changed (deprecate, revoke, reinstate)"
    )
    replacement: int | None = Field(
        default=None, description="The version of the same model to use instead (deprecated)"
    )
    status_at: datetime | None = None
    status_by: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.number}"


class ManifestRead(BaseModel):
    model: str
    number: int
    digest: str
    schema_version: int = Field(alias="schema")
    files: list[FileEntry]
