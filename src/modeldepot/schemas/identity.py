"""Identities: users, service accounts, groups, grants and API tokens.

No schema that leaves the server carries a secret except ``TokenCreated``, the answer
to creating a token, which shows it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["user", "service"]
RoleName = Literal["reader", "contributor", "maintainer", "admin"]


class GrantRead(BaseModel):
    id: int
    subject: str = Field(description="The user, service account or group holding the role")
    subject_kind: Literal["user", "service", "group"]
    prefix: str = Field(description="Namespace prefix, `/` for the whole registry")
    role: RoleName
    created_at: datetime
    created_by: str


class GrantCreate(BaseModel):
    subject: str = Field(max_length=128, examples=["alice"])
    role: RoleName
    prefix: str = Field(default="/", max_length=201, examples=["ads/"])


class PrincipalCreate(BaseModel):
    name: str = Field(max_length=128, examples=["alice"])
    kind: Kind = "user"
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(
        default=None, max_length=1024, description="Users only; at least 8 characters"
    )


class PrincipalUpdate(BaseModel):
    """Fields left out are unchanged. ``password: null`` keeps it; an admin may
    ``clear_password``. Only an admin may disable or enable an account."""

    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=1024)
    clear_password: bool = False
    disabled: bool | None = None


class PrincipalRead(BaseModel):
    name: str
    kind: Kind
    display_name: str
    has_password: bool
    disabled: bool
    disabled_at: datetime | None = None
    groups: list[str] = Field(default_factory=list)
    grants: list[GrantRead] = Field(default_factory=list)
    created_at: datetime
    created_by: str


class GroupCreate(BaseModel):
    name: str = Field(max_length=128, examples=["team-ads"])
    description: str = Field(default="", max_length=5000)


class GroupRead(BaseModel):
    name: str
    description: str
    members: list[str]
    grants: list[GrantRead] = Field(default_factory=list)
    created_at: datetime
    created_by: str


class TokenScope(BaseModel):
    prefix: str = Field(description="Namespace prefix, `/` for the whole registry")
    role: RoleName


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128, examples=["ci-ads"])
    scope: TokenScope | None = Field(
        default=None,
        description="Cap the token to a role on a prefix (at most its owner's role there); "
        "a scoped token's own tokens default to, and must stay within, its scope",
    )
    expires_at: datetime | None = Field(default=None, description="Absent: never expires")
    owner: str | None = Field(
        default=None, max_length=128, description="Admins only: a token of another account"
    )


class TokenRead(BaseModel):
    """A token as listed: never its secret."""

    id: str
    name: str
    owner: str
    scope: TokenScope | None = None
    expires_at: datetime | None = None
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    last_used_from: str | None = None
    revoked: bool
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class TokenCreated(TokenRead):
    token: str = Field(description="The token itself: shown this once, never again")

    @property
    def text(self) -> str:
        """The token itself (as ``IdentityService.create_token`` has always named it)."""
        return self.token


class LoginRequest(BaseModel):
    username: str = Field(max_length=128)
    password: str = Field(max_length=1024)
    token_name: str = Field(default="login", min_length=1, max_length=128)
    expires_at: datetime | None = None


class WhoAmI(BaseModel):
    name: str
    kind: Literal["user", "service", "anonymous", "system"]
    display_name: str = ""
    grants: list[str] = Field(description="`role on prefix/` held, directly or via groups")
    groups: list[str] = Field(default_factory=list)
    token: TokenRead | None = Field(default=None, description="The token this request used")
