"""Differences between two versions, and the lineage graph around one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ValueChange(BaseModel):
    """A key whose value differs; ``a``/``b`` are None where the key is absent."""

    key: str
    a: Any = None
    b: Any = None


class FileChange(BaseModel):
    path: str
    change: Literal["added", "removed", "changed"]
    a_digest: str | None = None
    b_digest: str | None = None
    a_size: int | None = None
    b_size: int | None = None


class DatasetChange(BaseModel):
    change: Literal["added", "removed"]
    uri: str
    digest: str
    role: str


class VersionDiff(BaseModel):
    a: str = Field(description="`name:number` of the first version")
    b: str
    same_content: bool = Field(description="Both manifests have the same digest")
    params: list[ValueChange] = Field(description="By dotted path of every scalar leaf")
    metrics: list[ValueChange]
    tags: list[ValueChange]
    datasets: list[DatasetChange]
    packages: list[ValueChange] = Field(description="Environment packages: name → version")
    code: list[ValueChange]
    format: list[ValueChange]
    files: list[FileChange]


class GraphNode(BaseModel):
    id: str = Field(description="`version:name:number`, `dataset:<id>` or `code:<repo>@<commit>`")
    kind: Literal["version", "dataset", "code"]
    label: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class GraphEdge(BaseModel):
    source: str
    target: str
    kind: str = Field(
        description="`derived_from`, `depends_on` (version → version), `uses:<role>` "
        "(version → dataset), `built_from` (version → code)"
    )


class LineageGraph(BaseModel):
    root: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
