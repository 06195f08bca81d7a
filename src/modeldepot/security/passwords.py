"""Passwords: argon2id hashes (argon2-cffi), checked in the same time whether or not
the account exists.

Only people have passwords, and only to exchange them for an API token
(``POST /api/v1/auth/token``) or, later, to sign in to the web UI. A password is
never stored, logged or echoed; its hash lives in ``principals.password_hash``.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from modeldepot.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 1024  # argon2 takes any length; the bound only stops absurd request bodies


@functools.cache
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults are RFC 9106's second recommended profile (argon2id).
    return PasswordHasher()


@functools.cache
def _decoy() -> str:
    """A hash no password matches by chance, verified when the account has none, so
    that an unknown name costs what a known one does."""
    return _hasher().hash("modeldepot decoy password, never a real one")


def check_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(f"a password is {MIN_LENGTH} to {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(check_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; with no hash (unknown account, or
    one without a password) it spends the same time and answers False."""
    try:
        _hasher().verify(stored_hash or _decoy(), password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None
