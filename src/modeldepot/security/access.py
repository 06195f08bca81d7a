"""``Access``: what one principal may do where, answered in Python and inside SQL.

An ``Access`` is the principal's grants (its own and its groups'), capped by the scope
of the token it authenticated with. It is built once per request and never touches the
database again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from modeldepot.errors import Forbidden, ModelNotFound
from modeldepot.security.roles import CREATES, NEEDS, Permission, Role, covers, show_prefix


@dataclass(frozen=True, slots=True)
class Grant:
    prefix: str  # normalised: "" is the root
    role: Role


@dataclass(frozen=True, slots=True)
class Scope:
    """A token's cap: it acts at most as ``role``, and only on names under ``prefix``."""

    prefix: str
    role: Role


@dataclass(frozen=True, slots=True)
class Access:
    grants: tuple[Grant, ...] = ()
    scope: Scope | None = None

    def role_on(self, name: str) -> Role | None:
        """The highest role held on ``name`` (a model name or a prefix), or None."""
        best: Role | None = None
        for grant in self.grants:
            if covers(grant.prefix, name) and (best is None or grant.role > best):
                best = grant.role
        if best is None or self.scope is None:
            return best
        if not covers(self.scope.prefix, name):
            return None
        return min(best, self.scope.role)

    def may(self, permission: Permission, name: str = "") -> bool:
        role = self.role_on(name)
        return role is not None and role >= NEEDS[permission]

    def require(self, permission: Permission, name: str = "") -> None:
        """Raise unless ``permission`` is held on ``name``.

        Someone who cannot even read ``name`` learns nothing about it: ModelNotFound,
        as if it did not exist (Forbidden for creations, which reveal nothing either way).
        """
        role = self.role_on(name)
        if role is not None and role >= NEEDS[permission]:
            return
        if role is None and permission not in CREATES and name:
            raise ModelNotFound(f"model {name!r} does not exist", model=name)
        where = f"on {name!r}" if name else "on the registry"
        raise Forbidden(
            f"{permission.value} needs the role {NEEDS[permission].label} {where}",
            permission=permission.value,
        )

    @property
    def is_admin(self) -> bool:
        return self.may(Permission.REGISTRY_ADMIN)

    @property
    def reads_everything(self) -> bool:
        return self.role_on("") is not None

    def readable(self, column: Any) -> ColumnElement[bool]:
        """A SQL condition true where ``column`` (a model name) is readable."""
        return self.holding(column, Role.READER)

    def holding(self, column: Any, role: Role) -> ColumnElement[bool]:
        """A SQL condition true where ``role`` (or more) is held on ``column``'s name."""
        prefixes = sorted(
            {g.prefix for g in self.grants if g.role >= role and self._scope_allows(g, role)}
        )
        if "" in prefixes:
            return self._scoped(column) if self.scope and self.scope.prefix else true()
        if not prefixes:
            return false()
        terms = []
        for prefix in prefixes:
            terms.append(column == prefix)
            terms.append(column.like(_like_below(prefix), escape="\\"))
        clause: ColumnElement[bool] = or_(*terms)
        if self.scope and self.scope.prefix:
            return clause & self._scoped(column)
        return clause

    def _scope_allows(self, grant: Grant, role: Role) -> bool:
        return self.scope is None or self.scope.role >= role

    def _scoped(self, column: Any) -> ColumnElement[bool]:
        assert self.scope is not None
        prefix = self.scope.prefix
        return or_(column == prefix, column.like(_like_below(prefix), escape="\\"))

    def describe(self) -> list[str]:
        """``role on prefix/`` lines, for ``whoami``."""
        return [f"{g.role.label} on {show_prefix(g.prefix)}" for g in self.grants]


def _like_below(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


EVERYTHING = Access((Grant("", Role.ADMIN),))
READ_ALL = Access((Grant("", Role.READER),))
NOTHING = Access()
