"""The key that signs the audit chain's checkpoints, kept outside the database.

A checkpoint says "record ``seq`` of the chain has hash ``hash``": its signature is
Ed25519 over the ASCII bytes ``"<seq>:<hash>"``. Whoever can write the database but
not read this key cannot rewrite a checkpointed record without ``audit verify``
noticing. The private key is a PEM (PKCS#8) file readable by its owner only; its
``key_id`` is the SHA-256 of the raw 32-byte public key, first 16 hex digits.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from modeldepot.errors import AuditKeyInvalid

KEY_ID_DIGITS = 16


def message(seq: int, hash_: str) -> bytes:
    """What a checkpoint's signature covers."""
    return f"{seq}:{hash_}".encode("ascii")


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_DIGITS]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A key that checks checkpoint signatures."""

    key: Ed25519PublicKey
    key_id: str

    @classmethod
    def of(cls, key: Ed25519PublicKey) -> PublicKey:
        return cls(key, key_id_of(key))

    def verifies(self, seq: int, hash_: str, signature: str) -> bool:
        try:
            self.key.verify(bytes.fromhex(signature), message(seq, hash_))
        except (InvalidSignature, ValueError):
            return False
        return True

    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


@dataclass(frozen=True, slots=True)
class Signer:
    """The private key that signs checkpoints."""

    key: Ed25519PrivateKey
    public: PublicKey

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, seq: int, hash_: str) -> str:
        """The signature of "record ``seq`` has hash ``hash_``", as 128 hex digits."""
        return self.key.sign(message(seq, hash_)).hex()


def load_or_create(path: Path) -> Signer:
    """The signer in ``path``, created (mode 0600) if the file does not exist.

    Replicas sharing a data directory race safely: the key is written to a private
    temporary file and linked into place, so the first to link wins and the others
    read its key. Raises AuditKeyInvalid when the file holds something else.
    """
    try:
        return load_signer(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return load_signer(path)


def load_signer(path: Path) -> Signer:
    """The signer in ``path``; FileNotFoundError if there is none."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuditKeyInvalid(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyInvalid(f"{path} holds a key that is not Ed25519")
    return Signer(key, PublicKey.of(key.public_key()))


def load_public(path: Path) -> PublicKey:
    """The public key of a PEM file holding either the private or the public key."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_signer(path).public
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise AuditKeyInvalid(f"{path} is not a PEM public or private key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyInvalid(f"{path} holds a key that is not Ed25519")
    return PublicKey.of(key)
