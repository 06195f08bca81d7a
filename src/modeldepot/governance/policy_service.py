"""Apply, read, compare and remove policies (``registry.policies``).

Applying a source makes a new version only when its normalised spec differs from the
one in force; applying the same policy again answers the current version unchanged,
so a CI job may apply a directory of policies on every run. Writing needs
``governance:admin`` on the policy's prefix (and on its former prefix, when it moves);
reading needs only to be authenticated.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select
from sqlalchemy.exc import IntegrityError

from modeldepot.db.tables import policies
from modeldepot.errors import Conflict, PolicyNotFound
from modeldepot.governance.policies import in_force
from modeldepot.governance.policyspec import parse_policy, valid_policy_name
from modeldepot.registry.pagination import check_limit, decode_cursor, encode_cursor
from modeldepot.registry.unit import UnitOfWork, Units
from modeldepot.schemas.common import Page
from modeldepot.schemas.policies import PolicyRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


@dataclass(frozen=True)
class Applied:
    policy: PolicyRead
    created: bool  # a new version; False: the source changed nothing


class PolicyService:
    """Policies as code: versioned YAML documents, audited."""

    def __init__(self, units: Units) -> None:
        self.units = units

    def apply(self, ctx: Context, source: str) -> PolicyRead:
        """Check ``source`` (PolicyInvalid, ExpressionTooComplex) and make it the
        policy in force of its name: a new version, or the current one if unchanged."""
        return self.apply_policy(ctx, source).policy

    def apply_policy(self, ctx: Context, source: str) -> Applied:
        """``apply``, saying whether it made a new version."""
        spec = parse_policy(source)
        name = spec["name"]
        with self.units.write(ctx) as uow:
            uow.require(Permission.GOVERNANCE_ADMIN, spec["prefix"])
            current = _newest(uow.conn, name)
            if current is not None and not current.removed:
                uow.require(Permission.GOVERNANCE_ADMIN, current.prefix)
                if current.spec == spec:
                    return Applied(_read(current), created=False)
            version = current.version + 1 if current is not None else 1
            row = _insert(uow, spec, source, version, removed=False)
            uow.record(
                "policy.apply",
                name,
                before=_summary(current) if current is not None and not current.removed else None,
                after=_summary(row),
            )
            return Applied(_read(row), created=True)

    def remove(self, ctx: Context, name: str) -> PolicyRead:
        """End policy ``name``: a last version that removes it (its history stays)."""
        with self.units.write(ctx) as uow:
            current = _newest(uow.conn, name)
            if current is None or current.removed:
                raise PolicyNotFound(f"no policy {name!r} is in force")
            uow.require(Permission.GOVERNANCE_ADMIN, current.prefix)
            row = _insert(uow, current.spec, "", current.version + 1, removed=True)
            uow.record("policy.remove", name, before=_summary(current), after=_summary(row))
            return _read(row)

    def list_policies(
        self, ctx: Context, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[PolicyRead]:
        """The policies in force (each its newest version), by name, a page at a time."""
        size = check_limit(limit)
        after = decode_cursor(cursor, str)[0] if cursor else None
        with self.units.read(ctx) as reading:
            rows = [row for row in in_force(reading.conn) if after is None or row.name > after]
        page = rows[:size]
        next_cursor = encode_cursor(page[-1].name) if len(rows) > size else None
        return Page[PolicyRead](items=[_read(row) for row in page], next_cursor=next_cursor)

    def get(self, ctx: Context, name: str, version: int | None = None) -> PolicyRead:
        """Version ``version`` of policy ``name`` (a removal too), or the one in force."""
        with self.units.read(ctx) as reading:
            if version is not None:
                return _read(_version(reading.conn, name, version))
            row = _newest(reading.conn, name)
        if row is None:
            raise PolicyNotFound(f"no policy is named {name!r}")
        if row.removed:
            raise PolicyNotFound(
                f"policy {name!r} was removed in version {row.version} "
                f"(`modeldepot policy history {name}`)"
            )
        return _read(row)

    def history(self, ctx: Context, name: str) -> list[PolicyRead]:
        """Every version of policy ``name``, oldest first."""
        with self.units.read(ctx) as reading:
            rows: Sequence[Row[Any]] = []
            if valid_policy_name(name):
                rows = reading.conn.execute(
                    select(policies).where(policies.c.name == name).order_by(policies.c.version)
                ).all()
        if not rows:
            raise PolicyNotFound(f"no policy is named {name!r}")
        return [_read(row) for row in rows]

    def diff(self, ctx: Context, name: str, from_version: int, to_version: int) -> str:
        """A unified diff of the YAML sources of two versions (a removal's is empty)."""
        with self.units.read(ctx) as reading:
            before = _version(reading.conn, name, from_version)
            after = _version(reading.conn, name, to_version)
        lines = difflib.unified_diff(
            _lines(before.source),
            _lines(after.source),
            fromfile=f"{name}@{from_version}",
            tofile=f"{name}@{to_version}",
        )
        return "".join(lines)


def _lines(text: str) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(True)]


def _newest(conn: Connection, name: str) -> Row[Any] | None:
    if not valid_policy_name(name):
        return None  # never a policy's: not even worth a query (nor a NUL for PostgreSQL)
    return conn.execute(
        select(policies).where(policies.c.name == name).order_by(policies.c.version.desc()).limit(1)
    ).first()


def _version(conn: Connection, name: str, version: int) -> Row[Any]:
    row = None
    if valid_policy_name(name):
        row = conn.execute(
            select(policies).where(policies.c.name == name, policies.c.version == version)
        ).first()
    if row is None:
        raise PolicyNotFound(f"policy {name!r} has no version {version}")
    return row


def _insert(
    uow: UnitOfWork, spec: dict[str, Any], source: str, version: int, *, removed: bool
) -> Row[Any]:
    statement = insert(policies).values(
        name=spec["name"],
        version=version,
        alias=spec["alias"],
        prefix=spec["prefix"],
        risk_levels=",".join(spec["risk"]),
        source=source,
        spec=spec,
        removed=removed,
        created_at=uow.now,
        created_by=uow.ctx.name,
    )
    try:
        uow.conn.execute(statement)
    except IntegrityError:
        # Another apply or removal of the same policy took this version number first.
        raise Conflict(
            f"policy {spec['name']!r} changed while this was applied: apply it again"
        ) from None
    return _version(uow.conn, spec["name"], version)


def _summary(row: Row[Any]) -> dict[str, Any]:
    """What the audit log keeps of a version: enough to find it, not its source."""
    return {
        "version": row.version,
        "alias": row.alias,
        "prefix": row.prefix,
        "risk": [level for level in row.risk_levels.split(",") if level],
        "removed": row.removed,
    }


def _read(row: Row[Any]) -> PolicyRead:
    return PolicyRead(
        name=row.name,
        version=row.version,
        alias=row.alias,
        prefix=row.prefix,
        risk_levels=[level for level in row.risk_levels.split(",") if level],
        removed=row.removed,
        source=row.source,
        spec=row.spec,
        created_at=row.created_at,
        created_by=row.created_by,
    )
