"""AuditService: list, export and verify the audit log.

Who sees what: a record about a model needs ``audit:read`` (maintainer) on it; a
record about no model (users, groups, grants, tokens, gc) needs the registry admin.
Both are conditions inside the SQL (``audit/query.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from sqlalchemy import and_, select

from modeldepot.audit.checkpoints import Checkpointer
from modeldepot.audit.query import AuditFilter, record_line, record_read, visible
from modeldepot.audit.verify import verify
from modeldepot.db.tables import audit_head, audit_log
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import Units
from modeldepot.schemas.audit import AuditRecordRead, AuditVerification
from modeldepot.schemas.common import Page
from modeldepot.security.context import Context
from modeldepot.security.roles import NEEDS, Permission

EXPORT_BATCH = 1000


class AuditService:
    def __init__(self, units: Units, checkpointer: Checkpointer) -> None:
        self.units = units
        self.checkpointer = checkpointer

    def list_records(
        self,
        ctx: Context,
        filters: AuditFilter,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AuditRecordRead]:
        """Records ``ctx`` may audit that match ``filters``, newest first.

        Filtering on one ``model`` needs ``audit:read`` on it (FORBIDDEN, or
        MODEL_NOT_FOUND to whom cannot read it); any other filter only narrows.
        """
        limit = check_limit(limit)
        with self.units.read(ctx) as reading:
            if filters.model is not None:
                reading.require(Permission.AUDIT_READ, filters.model)
            query = (
                select(audit_log.c.seq, audit_log.c.record, audit_log.c.hash)
                .where(visible(reading.access, NEEDS[Permission.AUDIT_READ]))
                .where(*filters.conditions())
                .order_by(audit_log.c.seq.desc())
                .limit(limit + 1)
            )
            if cursor:
                (before,) = decode_cursor(cursor, int)
                query = query.where(audit_log.c.seq < before)
            rows = reading.conn.execute(query).all()
        items = [record_read(r.record, r.hash) for r in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
        return Page[AuditRecordRead](items=items, next_cursor=next_cursor)

    def export_records(
        self, ctx: Context, filters: AuditFilter, *, after: int = 0
    ) -> Iterator[str]:
        """JSON Lines of the records ``ctx`` may audit that match ``filters``, oldest
        first, up to the head as it was when the export began.

        Checks and filters are applied before the first line is produced (so a refusal
        is an error, not a truncated stream); then batches of rows are read, each in a
        short transaction of its own, so a long export holds no snapshot open.
        """
        with self.units.read(ctx) as reading:
            if filters.model is not None:
                reading.require(Permission.AUDIT_READ, filters.model)
            conditions = [
                visible(reading.access, NEEDS[Permission.AUDIT_READ]),
                *filters.conditions(),
            ]
            end = reading.conn.execute(select(audit_head.c.seq)).scalar_one()
        return self._export(ctx, and_(*conditions), after, end)

    def _export(self, ctx: Context, condition: object, after: int, end: int) -> Iterator[str]:
        while after < end:
            with self.units.read(ctx) as reading:
                rows = reading.conn.execute(
                    select(audit_log.c.seq, audit_log.c.record, audit_log.c.hash)
                    .where(condition, audit_log.c.seq > after, audit_log.c.seq <= end)
                    .order_by(audit_log.c.seq)
                    .limit(EXPORT_BATCH)
                ).all()
            if not rows:
                return
            yield "".join(record_line(r.record, r.hash) for r in rows)
            after = rows[-1].seq

    def verify(self, ctx: Context) -> AuditVerification:
        """Walk the whole chain and its checkpoints with this server's key (registry
        admins only); ``problem`` names the first inconsistency."""
        with self.units.read(ctx) as reading:
            reading.require(Permission.REGISTRY_ADMIN)
        found = verify(
            self.units.db,
            [self.checkpointer.signer.public],
            every=self.checkpointer.every,
        )
        return AuditVerification.model_validate(dataclasses.asdict(found))

    def load_key(self) -> str:
        """Read the signing key, creating it (mode 0600) if missing; its key id."""
        return self.checkpointer.signer.key_id

    def checkpoint(self) -> int | None:
        """Sign the chain's head if the last checkpoint does not cover it (the server's
        timer; see ``audit/checkpoints.py``)."""
        return self.checkpointer.checkpoint_head()
