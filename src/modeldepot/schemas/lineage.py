"""Lineage of a version: code, environment, data, relations, format and signature.

Everything here is recorded once, when the version is committed, except relations,
which can be added later (``POST …/versions/{n}/relations``). Bounds keep one record
small enough to read whole; ``modeldepot.lineage.checks`` enforces the rest.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

DatasetRole = Literal["train", "validation", "test", "other"]
RelationKind = Literal["derived_from", "depends_on"]
ModelFormat = Literal[
    "sklearn",
    "pickle",
    "joblib",
    "skops",
    "onnx",
    "pytorch",
    "safetensors",
    "xgboost",
    "lightgbm",
    "keras",
    "huggingface",
    "other",
]
FORMATS: tuple[str, ...] = get_args(ModelFormat)

_SHORT = 1000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeInfo(Strict):
    """Where the code that produced the version lives, at which commit."""

    repository: str | None = Field(default=None, max_length=_SHORT)
    commit: str | None = Field(default=None, max_length=64)
    branch: str | None = Field(default=None, max_length=255)
    dirty: bool = False
    diff_digest: str | None = Field(
        default=None, max_length=71, description="sha256 of `git diff HEAD` when dirty"
    )
    entry_point: str | None = Field(default=None, max_length=_SHORT)


class EnvironmentInfo(Strict):
    """The software the version was produced with."""

    python: str | None = Field(default=None, max_length=64, examples=["3.11.7"])
    implementation: str | None = Field(default=None, max_length=32, examples=["CPython"])
    platform: str | None = Field(default=None, max_length=255)
    packages: dict[str, str] = Field(
        default_factory=dict, description="Distribution name → version, as installed"
    )
    accelerator: str | None = Field(default=None, max_length=255)
    container_image: str | None = Field(default=None, max_length=_SHORT)


class FormatInfo(Strict):
    name: ModelFormat
    framework: str | None = Field(default=None, max_length=64)
    framework_version: str | None = Field(default=None, max_length=64)
    path: str | None = Field(
        default=None, max_length=1024, description="The file (or directory) holding the model"
    )


class TensorSpec(Strict):
    name: str | None = Field(default=None, max_length=255)
    dtype: str = Field(max_length=64, examples=["float64"])
    shape: list[int | None] | None = Field(
        default=None, max_length=32, description="None for a dimension of any size"
    )


class Signature(Strict):
    inputs: list[TensorSpec] = Field(default_factory=list, max_length=1000)
    outputs: list[TensorSpec] = Field(default_factory=list, max_length=1000)


class DatasetUse(Strict):
    """A dataset a version used; datasets are shared records keyed by URI and digest."""

    uri: str = Field(min_length=1, max_length=1000, examples=["s3://data/clicks/2026-10"])
    digest: str = Field(default="", max_length=200)
    role: DatasetRole = "other"
    name: str = Field(default="", max_length=200)
    size: int | None = Field(default=None, ge=0, le=2**63 - 1)
    personal_data: bool = False


class MetricSlice(Strict):
    """A metric computed on a dataset and/or a slice of it (``sex=female``)."""

    name: str = Field(min_length=1, max_length=128)
    value: float
    slice: str = Field(default="", max_length=200)
    dataset: str | None = Field(
        default=None, max_length=1000, description="URI of one of the version's datasets"
    )


class LineageWrite(Strict):
    """The lineage a push may carry (every field optional)."""

    code: CodeInfo | None = None
    environment: EnvironmentInfo | None = None
    datasets: list[DatasetUse] = Field(default_factory=list, max_length=200)
    metric_slices: list[MetricSlice] = Field(default_factory=list, max_length=2000)
    derived_from: list[str] = Field(
        default_factory=list, max_length=100, description="References to other versions"
    )
    depends_on: list[str] = Field(default_factory=list, max_length=100)
    format: FormatInfo | None = None
    signature: Signature | None = None
    input_example: Any = None
    output_example: Any = None


class DatasetRead(BaseModel):
    id: int
    uri: str
    digest: str
    name: str
    size: int | None
    personal_data: bool


class DatasetUseRead(DatasetRead):
    role: DatasetRole


class RelationRead(BaseModel):
    kind: RelationKind
    model: str
    number: int
    deleted: bool = False


class RelationCreate(Strict):
    kind: RelationKind
    target: str = Field(description="Reference to the related version", examples=["ads/emb:3"])


class LineageRead(BaseModel):
    """The whole lineage of one version."""

    model: str
    number: int
    code: CodeInfo | None = None
    environment: EnvironmentInfo | None = None
    datasets: list[DatasetUseRead] = Field(default_factory=list)
    metric_slices: list[MetricSlice] = Field(default_factory=list)
    derived_from: list[RelationRead] = Field(default_factory=list)
    depends_on: list[RelationRead] = Field(default_factory=list)
    used_by: list[RelationRead] = Field(
        default_factory=list, description="Versions that name this one in their relations"
    )
    format: FormatInfo | None = None
    signature: Signature | None = None
    input_example: Any = None
    output_example: Any = None
