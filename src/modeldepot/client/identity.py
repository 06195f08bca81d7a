"""The SDK's identity calls: who am I, tokens, users and service accounts, groups, grants.

``IdentityMixin`` is part of ``Client``; each method is one REST call (or a walk over
the pages of one list), except ``revoke_grant`` by subject and prefix, which finds the
grant first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from modeldepot.errors import GrantNotFound

if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.client.http import Http
    from modeldepot.schemas.identity import (
        GrantRead,
        GroupRead,
        PrincipalRead,
        TokenCreated,
        TokenRead,
        WhoAmI,
    )

M = TypeVar("M", bound="BaseModel")


def _seg(text: str) -> str:
    return quote(text, safe="")


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class IdentityMixin:
    http: Http

    if TYPE_CHECKING:

        def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M: ...
        def _pages(
            self, schema: type[M], path: str, params: dict[str, Any], limit: int | None
        ) -> Iterator[M]: ...

    # Who am I, tokens ----------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        """Who this client authenticates as: name, kind, roles, groups, its token."""
        from modeldepot.schemas.identity import WhoAmI

        return self._call(WhoAmI, "GET", "/whoami")

    def login(
        self,
        username: str,
        password: str,
        *,
        token_name: str = "login",
        expires_at: datetime | None = None,
    ) -> TokenCreated:
        """A new token for a user's password (this client keeps sending its own; use
        the returned ``token`` in a new ``Client``, or ``modeldepot login`` to store it)."""
        from modeldepot.schemas.identity import TokenCreated

        body = {
            "username": username,
            "password": password,
            "token_name": token_name,
            "expires_at": _instant(expires_at),
        }
        return self._call(TokenCreated, "POST", "/auth/token", json=body)

    def create_token(
        self,
        name: str,
        *,
        prefix: str | None = None,
        role: str | None = None,
        expires_at: datetime | None = None,
        owner: str | None = None,
    ) -> TokenCreated:
        """A new token (``.token`` is the secret, shown this once), optionally scoped to
        ``role`` on ``prefix`` (a role alone: on ``/``; a prefix alone: the owner's
        role there) and expiring. ``owner``: admins, a token of another account."""
        from modeldepot.schemas.identity import TokenCreated

        scope = None
        if prefix is not None or role is not None:
            scope = {"prefix": prefix or "/", "role": role or "admin"}
        body = {"name": name, "scope": scope, "expires_at": _instant(expires_at), "owner": owner}
        return self._call(TokenCreated, "POST", "/tokens", json=body)

    def list_tokens(self, *, owner: str | None = None, everyone: bool = False) -> list[TokenRead]:
        """This account's tokens (an admin: ``owner``'s, or ``everyone``'s); no secrets."""
        from modeldepot.schemas.identity import TokenRead

        params = {"owner": owner, "all": everyone or None}
        return list(self._pages(TokenRead, "/tokens", params, None))

    def revoke_token(self, token_id: str) -> TokenRead:
        from modeldepot.schemas.identity import TokenRead

        return self._call(TokenRead, "DELETE", f"/tokens/{_seg(token_id)}")

    # Users and service accounts ------------------------------------------------------

    def create_user(
        self,
        name: str,
        *,
        display_name: str = "",
        password: str | None = None,
        service: bool = False,
    ) -> PrincipalRead:
        """A user (with a password, optionally) or, with ``service=True``, a service
        account (tokens only)."""
        from modeldepot.schemas.identity import PrincipalRead

        body = {
            "name": name,
            "kind": "service" if service else "user",
            "display_name": display_name,
            "password": password,
        }
        return self._call(PrincipalRead, "POST", "/principals", json=body)

    def create_service_account(self, name: str, *, display_name: str = "") -> PrincipalRead:
        return self.create_user(name, display_name=display_name, service=True)

    def list_users(self, *, kind: str | None = None) -> list[PrincipalRead]:
        """Every user and service account (or those of ``kind``: user, service)."""
        from modeldepot.schemas.identity import PrincipalRead

        return list(self._pages(PrincipalRead, "/principals", {"kind": kind}, None))

    def get_user(self, name: str) -> PrincipalRead:
        from modeldepot.schemas.identity import PrincipalRead

        return self._call(PrincipalRead, "GET", f"/principals/{_seg(name)}")

    def update_user(
        self,
        name: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        clear_password: bool = False,
        disabled: bool | None = None,
    ) -> PrincipalRead:
        """Change what is given (yourself: display name and password; an admin: also
        disable, enable, clear the password)."""
        from modeldepot.schemas.identity import PrincipalRead

        body = {
            "display_name": display_name,
            "password": password,
            "clear_password": clear_password,
            "disabled": disabled,
        }
        return self._call(PrincipalRead, "PATCH", f"/principals/{_seg(name)}", json=body)

    def set_password(self, name: str, password: str) -> PrincipalRead:
        return self.update_user(name, password=password)

    def disable_user(self, name: str) -> PrincipalRead:
        """Disable an account: its tokens and password stop working until enabled."""
        return self.update_user(name, disabled=True)

    def enable_user(self, name: str) -> PrincipalRead:
        return self.update_user(name, disabled=False)

    def delete_user(self, name: str) -> None:
        self.http.request("DELETE", f"/principals/{_seg(name)}")

    # Groups --------------------------------------------------------------------------

    def create_group(self, name: str, *, description: str = "") -> GroupRead:
        from modeldepot.schemas.identity import GroupRead

        body = {"name": name, "description": description}
        return self._call(GroupRead, "POST", "/groups", json=body)

    def list_groups(self) -> list[GroupRead]:
        from modeldepot.schemas.identity import GroupRead

        return list(self._pages(GroupRead, "/groups", {}, None))

    def get_group(self, name: str) -> GroupRead:
        from modeldepot.schemas.identity import GroupRead

        return self._call(GroupRead, "GET", f"/groups/{_seg(name)}")

    def delete_group(self, name: str) -> None:
        self.http.request("DELETE", f"/groups/{_seg(name)}")

    def add_group_member(self, group: str, member: str) -> GroupRead:
        from modeldepot.schemas.identity import GroupRead

        return self._call(GroupRead, "PUT", f"/groups/{_seg(group)}/members/{_seg(member)}")

    def remove_group_member(self, group: str, member: str) -> GroupRead:
        from modeldepot.schemas.identity import GroupRead

        return self._call(GroupRead, "DELETE", f"/groups/{_seg(group)}/members/{_seg(member)}")

    # Grants --------------------------------------------------------------------------

    def grant(self, subject: str, role: str, prefix: str = "/") -> GrantRead:
        """Give a user, service account or group ``role`` on ``prefix`` (replacing its
        role there)."""
        from modeldepot.schemas.identity import GrantRead

        body = {"subject": subject, "role": role, "prefix": prefix}
        return self._call(GrantRead, "POST", "/grants", json=body)

    def list_grants(
        self, *, subject: str | None = None, prefix: str | None = None
    ) -> list[GrantRead]:
        """The grants you may see (an admin: all), filtered by subject or exact prefix."""
        from modeldepot.schemas.identity import GrantRead

        params = {"subject": subject, "prefix": prefix}
        return list(self._pages(GrantRead, "/grants", params, None))

    def revoke_grant(self, subject: str, prefix: str = "/") -> GrantRead:
        """Remove ``subject``'s grant on ``prefix``; GrantNotFound if it has none there."""
        found = self.list_grants(subject=subject, prefix=prefix)
        if not found:
            raise GrantNotFound(f"{subject!r} holds no role on {prefix!r}")
        self.http.request("DELETE", f"/grants/{found[0].id}")
        return found[0]
