"""API tokens: ``mdp_<id>_<secret>``, high-entropy, recognisable, stored as a hash.

The ``mdp_`` prefix lets secret scanners find a leaked token; ``id`` (12 characters)
is public and finds the row; ``secret`` (256 random bits) is checked against its
SHA-256 in constant time. A slow hash buys nothing for a secret this long.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "mdp_"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_FORMAT = re.compile(r"^mdp_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    secret_hash: str
    text: str  # shown once, never stored


def generate() -> NewToken:
    token_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return NewToken(token_id, hash_secret(secret), f"{PREFIX}{token_id}_{secret}")


def adopt(text: str) -> NewToken | None:
    """``text`` as a token to store (one made elsewhere, e.g. by ``generate`` in a
    deployment's secrets), or None if it is not well formed."""
    parsed = parse(text)
    if parsed is None:
        return None
    return NewToken(parsed[0], hash_secret(parsed[1]), text)


def parse(text: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token, else None."""
    match = _FORMAT.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
