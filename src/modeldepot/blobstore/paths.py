"""The one owner of the blob store's key layout.

::

    <root>/                  a directory (local), or a bucket and key prefix (S3)
      sha256/
        ab/
          ab3f…e1            committed blob, named by its digest's hex; never rewritten
      uploads/
        <upload id>          local: bytes staged by an upload session, not yet verified
        <upload id>/         object stores: one session, as several objects
          session            marker: the session exists (empty)
          writer             lease of the one writer allowed to append
          00000000000000000000   staged bytes starting at that offset (20 digits),
          00000000000008388608   consecutive pieces, each created once, never rewritten

A blob appears under ``sha256/`` only after its bytes were verified against its
digest, so every key there is trustworthy. Keys use ``/`` on every backend.
"""

from __future__ import annotations

import re

from modeldepot.digest import hex_of
from modeldepot.errors import UploadNotFound

BLOBS = "sha256"
UPLOADS = "uploads"
SESSION = "session"
WRITER = "writer"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_OFFSET_DIGITS = 20


def blob_key(digest: str) -> str:
    hex_digest = hex_of(digest)
    return f"{BLOBS}/{hex_digest[:2]}/{hex_digest}"


def digest_of_key(key: str) -> str | None:
    """The digest a blob key stands for, or None if ``key`` is not a blob key."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != BLOBS:
        return None
    hex_digest = parts[2]
    if len(hex_digest) != 64 or parts[1] != hex_digest[:2]:
        return None
    if any(c not in "0123456789abcdef" for c in hex_digest):
        return None
    return f"sha256:{hex_digest}"


def check_upload_id(upload_id: str) -> str:
    """Upload ids are 32 lowercase hex characters; anything else is unknown."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound(f"upload {upload_id!r} does not exist")
    return upload_id


def upload_key(upload_id: str) -> str:
    return f"{UPLOADS}/{check_upload_id(upload_id)}"


def upload_piece_key(upload_id: str, name: str) -> str:
    """Key of one object of a session on an object store: ``SESSION``, ``WRITER`` or a
    piece name from ``piece_name``."""
    return f"{upload_key(upload_id)}/{name}"


def piece_name(offset: int) -> str:
    """Name of the staged piece starting at ``offset``; names sort in offset order."""
    return f"{offset:0{_OFFSET_DIGITS}d}"


def piece_offset(name: str) -> int | None:
    """The offset a piece name stands for, or None if ``name`` is not a piece name."""
    if len(name) != _OFFSET_DIGITS or not name.isascii() or not name.isdigit():
        return None
    return int(name)


def split_upload_key(key: str) -> tuple[str, str] | None:
    """``(upload id, name)`` of an object-store session key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != UPLOADS or not _UPLOAD_ID.fullmatch(parts[1]):
        return None
    return parts[1], parts[2]
