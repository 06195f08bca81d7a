"""What a caller may see of the log, and the filters of lists, exports and events,
as SQL conditions on ``audit_log`` (never a filter in Python after fetching)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true

from modeldepot.audit.actions import ACTIONS
from modeldepot.db.tables import audit_log
from modeldepot.errors import InvalidInput
from modeldepot.schemas.audit import AuditRecordRead
from modeldepot.security.access import Access
from modeldepot.security.roles import Role, normalize_prefix


def visible(access: Access, role: Role) -> ColumnElement[bool]:
    """Records about models on which ``role`` (or more) is held; records about no model
    (users, groups, grants, tokens, gc) only for registry admins."""
    if access.is_admin:
        return true()
    return and_(audit_log.c.model.is_not(None), access.holding(audit_log.c.model, role))


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """``model`` exactly, or every model under ``prefix``; ``action`` exactly or a
    family (``alias.*``); ``since`` inclusive, ``until`` exclusive."""

    model: str | None = None
    prefix: str | None = None
    principal: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        column = audit_log.c
        terms: list[ColumnElement[bool]] = []
        if self.model is not None:
            terms.append(column.model == self.model)
        if self.prefix is not None:
            prefix = normalize_prefix(self.prefix)
            if prefix:
                escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                terms.append(
                    or_(column.model == prefix, column.model.like(escaped + "/%", escape="\\"))
                )
        if self.principal is not None:
            terms.append(column.principal == self.principal)
        if self.action is not None:
            terms.append(_action(self.action))
        if self.since is not None:
            terms.append(column.at >= self.since)
        if self.until is not None:
            terms.append(column.at < self.until)
        return terms


def _action(action: str) -> ColumnElement[bool]:
    if action.endswith(".*"):
        family = action[:-1]
        if not any(name.startswith(family) for name in ACTIONS):
            raise InvalidInput(f"no action is named {action!r} (see the README's action table)")
        return audit_log.c.action.in_(sorted(n for n in ACTIONS if n.startswith(family)))
    if action not in ACTIONS:
        raise InvalidInput(f"no action is named {action!r} (see the README's action table)")
    return audit_log.c.action == action


def record_read(body: str, hash_: str) -> AuditRecordRead:
    """A stored record as the API shows it: what it says, plus its hash."""
    record: dict[str, Any] = json.loads(body)
    return AuditRecordRead.model_validate({**record, "hash": hash_})


def record_line(body: str, hash_: str) -> str:
    """A stored record as one JSON Lines line of an export: its canonical body with its
    hash added as the last member (remove it, canonicalise, hash: the same)."""
    return f'{body[:-1]},"hash":"{hash_}"}}\n'
