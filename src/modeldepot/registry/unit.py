"""The unit of work: the one way services write, one per user action.

``with registry.units.write(ctx) as uow:`` opens a transaction that

* checks permissions (``uow.require``) against the caller in ``ctx``,
* gives the action one instant (``uow.now``),
* collects what changed (``uow.record``),

and, when the block ends without error, runs the in-transaction subscribers of each
change (alias history, and later governance guards, which may refuse by raising),
appends every change to the audit log, and commits all of it at once. After commit it
wakes whoever follows the log. ``units.read(ctx)`` is the matching read transaction.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from modeldepot.audit import chain
from modeldepot.audit.actions import ACTIONS
from modeldepot.db.engine import Database
from modeldepot.db.types import utcnow
from modeldepot.security.access import Access
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


@dataclass(frozen=True, slots=True)
class Change:
    """One change of one user action. ``before`` and ``after`` are what the audit log
    keeps; ``facts`` (row ids and the like) are for subscribers and never logged."""

    action: str
    target: str
    model: str | None = None
    before: Any = None
    after: Any = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class UnitOfWork:
    conn: Connection
    ctx: Context
    now: datetime
    changes: list[Change] = field(default_factory=list)
    # (model id, alias) pairs this unit may move although protected: set only by
    # applying a promotion request (governance/requests.py), read by the guard
    # (governance/protection.py), with the request's id.
    applying: dict[tuple[int, str], int] = field(default_factory=dict)

    def require(self, permission: Permission, name: str = "") -> None:
        """Raise Forbidden (or ModelNotFound, to whom cannot read ``name``) unless the
        caller holds ``permission`` on ``name``."""
        self.ctx.access.require(permission, name)

    def record(
        self,
        action: str,
        target: str,
        *,
        model: str | None = None,
        before: Any = None,
        after: Any = None,
        **facts: Any,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}: add it to audit/actions.py")
        self.changes.append(Change(action, target, model, before, after, facts))


Subscriber = Callable[[UnitOfWork, Change], None]
# Called inside the appending transaction, after the records ``first``..``last`` were
# appended and the head moved (while its lock is held): the audit checkpoints.
AppendHook = Callable[[Connection, int, int], None]


@dataclass(slots=True)
class Reading:
    """A read transaction and what the caller may see in it."""

    conn: Connection
    ctx: Context

    @property
    def access(self) -> Access:
        return self.ctx.access

    def require(self, permission: Permission, name: str = "") -> None:
        self.ctx.access.require(permission, name)


class Units:
    """Opens units of work on one database, with the subscribers registered on it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        # Woken after every commit that appended to the log: in-process followers of
        # the event stream wait on it (other replicas' commits are found by polling).
        self.appended = threading.Condition()
        self.last_seq = 0
        self.append_hooks: list[AppendHook] = []
        # The registry's clock: every unit's ``now``. Tests replace it to let time pass
        # (soak periods, expiries) without waiting.
        self.clock: Callable[[], datetime] = utcnow

    def subscribe(self, action: str, subscriber: Subscriber) -> None:
        """Run ``subscriber`` inside the transaction of every change named ``action``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        self._subscribers[action].append(subscriber)

    @contextmanager
    def write(self, ctx: Context) -> Iterator[UnitOfWork]:
        with self.db.write() as conn:
            uow = UnitOfWork(conn, ctx, self.clock())
            yield uow
            if uow.changes:
                # By index: a subscriber may record changes of its own (applying a
                # request moves an alias), which its subscribers then see too.
                done = 0
                while done < len(uow.changes):
                    change = uow.changes[done]
                    for subscriber in self._subscribers.get(change.action, ()):
                        subscriber(uow, change)
                    done += 1
                last = chain.append(conn, [_entry(uow, c) for c in uow.changes])
                for hook in self.append_hooks:
                    hook(conn, last - len(uow.changes) + 1, last)
        if uow.changes:
            with self.appended:
                self.last_seq = max(self.last_seq, last)
                self.appended.notify_all()

    @contextmanager
    def read(self, ctx: Context) -> Iterator[Reading]:
        with self.db.read() as conn:
            yield Reading(conn, ctx)


def _entry(uow: UnitOfWork, change: Change) -> dict[str, Any]:
    ctx = uow.ctx
    return {
        "at": uow.now,
        "principal": ctx.principal.name,
        "principal_kind": ctx.principal.kind,
        "action": change.action,
        "target": change.target,
        "model": change.model,
        "before": change.before,
        "after": change.after,
        "request_id": ctx.request_id,
        "client": ctx.client,
    }
