"""Protected aliases: which aliases move only by applying a promotion request, and the
guard that enforces it inside every unit of work.

A rule protects an alias of one model (``kind="model"``, ``scope`` the model's name) or
of every model under a namespace prefix (``kind="prefix"``; ``scope=""`` is every
model). By default ``staging`` and ``production`` are protected for every model
(migration 0008). The guard is a subscriber of ``alias.set`` and ``alias.delete``:
whatever write path moves an alias, in whatever role, the change passes through it and
is refused unless the unit of work is applying a request for that very alias
(``UnitOfWork.applying``, set only by ``governance/requests.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from modeldepot.db.tables import protected_aliases
from modeldepot.errors import AliasProtected, InvalidInput, ProtectionNotFound
from modeldepot.refs import validate_alias, validate_name
from modeldepot.registry.unit import Change, UnitOfWork, Units
from modeldepot.schemas.governance import ProtectionRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission, normalize_prefix

KINDS = ("model", "prefix")
# What a new registry protects for every model (migration 0008 writes these rules).
DEFAULT_PROTECTED = ("staging", "production")


def covers(kind: str, scope: str, name: str) -> bool:
    """Whether a rule of ``kind`` over ``scope`` applies to model ``name``."""
    if kind == "model":
        return scope == name
    return scope == "" or name == scope or name.startswith(scope + "/")


def protected(conn: Connection, name: str, alias: str) -> bool:
    """Whether ``alias`` of model ``name`` is protected."""
    rows = conn.execute(
        select(protected_aliases.c.kind, protected_aliases.c.scope).where(
            protected_aliases.c.alias == alias
        )
    ).all()
    return any(covers(kind, scope, name) for kind, scope in rows)


def protected_of(conn: Connection, name: str) -> set[str]:
    """Every protected alias name of model ``name`` (whether set or not)."""
    rows = conn.execute(
        select(protected_aliases.c.kind, protected_aliases.c.scope, protected_aliases.c.alias)
    ).all()
    return {alias for kind, scope, alias in rows if covers(kind, scope, name)}


def guard_protected_aliases(uow: UnitOfWork, change: Change) -> None:
    """Subscriber of ``alias.set`` and ``alias.delete``: refuse moving a protected alias
    unless this unit of work applies a promotion request for it."""
    facts = change.facts
    key = (facts["model_id"], facts["alias"])
    if key in uow.applying:
        return
    name = change.model or ""
    if protected(uow.conn, name, facts["alias"]):
        raise AliasProtected(
            f"{name}@{facts['alias']} is protected: it moves only by applying a promotion "
            f"request (`modeldepot promote {name}:<version> --to {facts['alias']}`)",
            model=name,
            alias=facts["alias"],
        )


class ProtectionService:
    """List, add and remove protection rules."""

    def __init__(self, units: Units) -> None:
        self.units = units

    def list_rules(self, ctx: Context, model: str | None = None) -> list[ProtectionRead]:
        """Every rule (any authenticated caller may see which aliases are protected),
        or those covering ``model`` (which the caller must be able to read)."""
        with self.units.read(ctx) as reading:
            if model is not None:
                reading.require(Permission.MODEL_READ, model)
            rows = reading.conn.execute(
                select(protected_aliases).order_by(
                    protected_aliases.c.kind, protected_aliases.c.scope, protected_aliases.c.alias
                )
            ).all()
        return [_read(row) for row in rows if model is None or covers(row.kind, row.scope, model)]

    def protect(self, ctx: Context, kind: str, scope: str, alias: str) -> ProtectionRead:
        """Protect ``alias`` of model ``scope`` (maintainers of it) or of every model
        under prefix ``scope`` (admins of that prefix). Protecting twice is a no-op."""
        kind, scope = _check(kind, scope)
        validate_alias(alias)
        with self.units.write(ctx) as uow:
            uow.require(_permission(kind), scope)
            conn = uow.conn
            existing = _find(conn, kind, scope, alias)
            if existing is not None:
                return _read(existing)
            conn.execute(
                insert(protected_aliases).values(
                    kind=kind, scope=scope, alias=alias, created_at=uow.now, created_by=ctx.name
                )
            )
            uow.record(
                "protection.add",
                _target(kind, scope, alias),
                model=scope if kind == "model" else None,
                after={"kind": kind, "scope": scope, "alias": alias},
            )
            row = _find(conn, kind, scope, alias)
            assert row is not None
            return _read(row)

    def unprotect(self, ctx: Context, kind: str, scope: str, alias: str) -> None:
        """Remove a rule; always an admin's act (of the model's namespace or the prefix),
        since it lets the alias move without review."""
        kind, scope = _check(kind, scope)
        validate_alias(alias)
        with self.units.write(ctx) as uow:
            uow.require(Permission.GOVERNANCE_ADMIN, scope)
            conn = uow.conn
            if _find(conn, kind, scope, alias) is None:
                raise ProtectionNotFound(f"no {kind} rule protects {alias!r} on {scope or '/'!r}")
            conn.execute(
                delete(protected_aliases).where(
                    protected_aliases.c.kind == kind,
                    protected_aliases.c.scope == scope,
                    protected_aliases.c.alias == alias,
                )
            )
            uow.record(
                "protection.remove",
                _target(kind, scope, alias),
                model=scope if kind == "model" else None,
                before={"kind": kind, "scope": scope, "alias": alias},
            )


def _check(kind: str, scope: str) -> tuple[str, str]:
    if kind not in KINDS:
        raise InvalidInput(f"protection kind {kind!r} is not one of: {', '.join(KINDS)}")
    if kind == "model":
        validate_name(scope)
        return kind, scope
    return kind, normalize_prefix(scope)


def _permission(kind: str) -> Permission:
    return Permission.ALIAS_PROTECT if kind == "model" else Permission.GOVERNANCE_ADMIN


def _find(conn: Connection, kind: str, scope: str, alias: str) -> Row[Any] | None:
    return conn.execute(
        select(protected_aliases).where(
            protected_aliases.c.kind == kind,
            protected_aliases.c.scope == scope,
            protected_aliases.c.alias == alias,
        )
    ).first()


def _target(kind: str, scope: str, alias: str) -> str:
    return f"{scope}@{alias}" if kind == "model" else f"{scope or ''}/*@{alias}"


def _read(row: Row[Any]) -> ProtectionRead:
    return ProtectionRead(
        kind=row.kind,
        scope=row.scope,
        alias=row.alias,
        created_at=row.created_at,
        created_by=row.created_by,
    )
