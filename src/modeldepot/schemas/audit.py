"""The audit log and the event stream on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditRecordRead(BaseModel):
    """One record of the audit log (also one event of the stream): what its canonical
    JSON body says, plus ``hash``, the SHA-256 of that body."""

    seq: int = Field(description="Position in the log: 1, 2, 3… in commit order")
    at: datetime
    principal: str = Field(description="Who acted")
    principal_kind: str | None = Field(
        default=None, description="`user`, `service`, `anonymous` or `system`"
    )
    action: str = Field(description="What happened (see the README's action table)")
    target: str = Field(description="What it happened to, e.g. `ads/ranker@production`")
    model: str | None = Field(default=None, description="The model concerned, if any")
    before: Any = None
    after: Any = None
    request_id: str | None = None
    client: str | None = Field(default=None, description="The client's network address")
    prev: str = Field(description="The previous record's hash (64 zeros for the first)")
    hash: str


class EventPage(BaseModel):
    """Events after a cursor, in commit order. Pass ``next_after`` back as ``after``:
    it moves past records the caller may not see, so nothing is read twice."""

    items: list[AuditRecordRead]
    next_after: int


class AuditFinding(BaseModel):
    seq: int = Field(description="The first record (or checkpoint) that is inconsistent")
    kind: str = Field(
        description="`missing`, `hash`, `body`, `moved`, `link`, `column`, `checkpoint`, "
        "`checkpoint-missing`, `truncated` or `head`"
    )
    detail: str


class AuditVerification(BaseModel):
    """What ``audit verify`` found: ``ok``, or the first inconsistency in ``problem``."""

    ok: bool
    records: int = Field(description="Records verified (up to the first problem)")
    last_seq: int
    last_hash: str
    checkpoints: int = Field(description="Checkpoints verified")
    last_checkpoint: int | None
    key_ids: list[str] = Field(description="Keys the signatures were checked with")
    problem: AuditFinding | None = None
    seconds: float
