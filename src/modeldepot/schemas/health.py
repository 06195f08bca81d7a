"""Wire models of the probes: ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class CheckRead(BaseModel):
    ok: bool
    detail: str = Field(description="What was found, or why the check failed")


class Readiness(BaseModel):
    """Every check passed; a 503 problem document carries the same ``checks``."""

    status: Literal["ready"] = "ready"
    checks: dict[str, CheckRead] = Field(description="By name: `database`, `schema`, `blobstore`")
