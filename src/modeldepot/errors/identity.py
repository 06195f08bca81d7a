"""Errors of identities: principals, tokens, grants, authentication. Imported by
``modeldepot.errors``, which re-exports them."""

from __future__ import annotations

from modeldepot.errors import Conflict, ModeldepotError, NotFound

__all__ = [
    "AuthRateLimited",
    "GrantNotFound",
    "PrincipalExists",
    "PrincipalNotFound",
    "PublicAnonymousWrite",
    "TokenExpired",
    "TokenNotFound",
    "TokenRevoked",
    "Unauthenticated",
]


class PrincipalNotFound(NotFound):
    code = "PRINCIPAL_NOT_FOUND"
    title = "No such user, group or service account"


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"
    title = "No such token"


class GrantNotFound(NotFound):
    code = "GRANT_NOT_FOUND"
    title = "No such grant"


class Unauthenticated(ModeldepotError):
    """The request carries no credential, or one this registry does not know. The
    detail never repeats the credential."""

    code = "UNAUTHENTICATED"
    title = "Authentication required"


class TokenExpired(Unauthenticated):
    code = "TOKEN_EXPIRED"
    title = "The token has expired"


class TokenRevoked(Unauthenticated):
    code = "TOKEN_REVOKED"
    title = "The token was revoked"


class AuthRateLimited(ModeldepotError):
    """Too many failed authentications from this address or for this account;
    ``retry_after`` says when to try again."""

    code = "AUTH_RATE_LIMITED"
    title = "Too many failed authentications"


class PrincipalExists(Conflict):
    code = "PRINCIPAL_EXISTS"
    title = "A user, group or service account of that name exists"


class PublicAnonymousWrite(ModeldepotError):
    """``modeldepot serve`` with ``MODELDEPOT_ANONYMOUS=write`` on a non-loopback
    address, not confirmed by ``MODELDEPOT_ALLOW_PUBLIC_ANONYMOUS_WRITE``."""

    code = "PUBLIC_ANONYMOUS_WRITE"
    title = "Anonymous write on a public address"
