"""Locks shared by every server process on one database, for background work.

On PostgreSQL these are advisory locks keyed by a stable 64-bit hash of the lock's
name. The server releases them when their holder lets go or its connection dies, so a
replica that crashes never leaves one behind. SQLite is one file on one host, where
the work they guard is already safe to repeat, so there every lock is granted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# Every lock there is, by name; ``lock_key`` turns a name into PostgreSQL's lock id.
SCHEMA_MIGRATION = "schema-migration"
UPLOAD_SWEEP = "upload-sweep"
GARBAGE_COLLECTION = "garbage-collection"
UPLOAD_ADMISSION = "upload-admission"


def lock_key(name: str) -> int:
    """The advisory lock id of ``name``: the same in every process and release."""
    digest = hashlib.sha256(f"modeldepot:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def try_exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True while this process holds lock ``name``; False at once if another does.

    Never waits. The lock is held on a connection of its own in autocommit mode, so the
    work inside may take any number of transactions without one staying open.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            yield False
            return
        try:
            yield True
        finally:
            _unlock(conn, key)


def wait_exclusive(conn: Connection, name: str) -> None:
    """Wait for lock ``name`` and hold it until ``conn``'s transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})


def _unlock(conn: Connection, key: int) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    except DBAPIError:
        # The lock lives as long as the session: closing it for good releases it.
        conn.invalidate()
