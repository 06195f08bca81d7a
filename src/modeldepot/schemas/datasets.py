"""Datasets and their use: which versions used them, which aliases depend on them."""

from __future__ import annotations

from pydantic import BaseModel

from modeldepot.schemas.lineage import DatasetRole


class DatasetUsage(BaseModel):
    """One version's use of (a snapshot of) a dataset."""

    model: str
    number: int
    role: DatasetRole
    dataset_id: int
    digest: str
    deleted: bool = False


class AliasImpact(BaseModel):
    """An alias that points at a version which used the dataset."""

    model: str
    alias: str
    number: int
    role: DatasetRole
    digest: str
