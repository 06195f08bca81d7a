"""Database engines and transactions.

``Database.write()`` is a transaction that may write; on SQLite it starts with
``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of failing
with a lock upgrade error. ``Database.read()`` is a plain read transaction. In both, a
database whose disk is full raises ``InsufficientStorage`` (SQLite's ``SQLITE_FULL``,
PostgreSQL's ``disk_full``), never a driver error.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from modeldepot.db.checkpoint import WalCheckpointer
from modeldepot.db.liveness import ping_when_idle
from modeldepot.db.prepared import PREPARED_OPTION
from modeldepot.errors import InsufficientStorage

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """An engine plus the two kinds of transaction services use."""

    def __init__(
        self, url: str, *, echo: bool = False, prepared: bool = True, checkpointer: bool = True
    ) -> None:
        """``prepared=False`` runs the hot statements (``db/hotpath.py``) through
        SQLAlchemy's ordinary execution instead of as prepared statements;
        ``checkpointer=False`` leaves a SQLite file's WAL checkpoints to SQLite."""
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _create_engine(url, echo=echo, options={PREPARED_OPTION: prepared})
        # SQLite admits one writer at a time; queueing writers of this process on a
        # FIFO lock is fair and fast, where SQLite's busy handler sleeps up to 100 ms a
        # try and a plain lock lets late writers overtake early ones (a long tail).
        self._write_lock = FairLock() if self.is_sqlite else None
        # SQLite's one writer at a time reuses one connection: checking a connection out
        # of the pool and back costs as much as a small statement. Dropped after an error.
        self._writer: Connection | None = None
        self._queues = None if self.is_sqlite else _keyed_queues()
        self._checkpointer = (
            WalCheckpointer(self._checkpoint_connection, self._write_lock)
            if checkpointer and self._write_lock is not None and _is_file(self.url.database)
            else None
        )

    @property
    def directory(self) -> str | None:
        """The directory of a SQLite database file, whose disk this server fills; None
        for a database server's (PostgreSQL's disk is its own)."""
        if not self.is_sqlite or not _is_file(self.url.database):
            return None
        return os.path.dirname(os.path.abspath(self.url.database or ""))

    @contextmanager
    def queue(self, key: str) -> Iterator[None]:
        """Wait for this process's earlier writers of ``key`` (a model's name) to finish
        (``db/queues.py``); a no-op on SQLite, whose writers all queue already."""
        if self._queues is None:
            yield
            return
        with self._queues.hold(key):
            yield

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except (DBAPIError, sqlite3.Error) as exc:
            _raise_if_full(exc)
            raise

    @contextmanager
    def write(self) -> Iterator[Connection]:
        try:
            if self._write_lock is None:
                with self.engine.connect() as conn, conn.begin():
                    yield conn
                return
            with self._write_lock:
                conn = self._writer or self._open_writer()
                try:
                    with conn.begin():
                        yield conn
                except BaseException:
                    self._writer = None
                    conn.close()
                    raise
                if self._checkpointer is not None:
                    self._checkpointer.committed()
        except (DBAPIError, sqlite3.Error) as exc:
            _raise_if_full(exc)
            raise

    def _open_writer(self) -> Connection:
        conn = self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        if self._checkpointer is not None:
            # The checkpointer thread checkpoints instead, without stalling writers.
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.commit()
        self._writer = conn
        return conn

    def _checkpoint_connection(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.url.database or "",
            isolation_level=None,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        if self._write_lock is not None:
            with self._write_lock:
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
        self.engine.dispose()


class FairLock:
    """A mutex granted in arrival order: under load no waiter is overtaken."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def try_acquire(self) -> bool:
        """Take the lock only if it is free and nobody waits; never blocks."""
        with self._guard:
            if self._held:
                return False
            self._held = True
            return True

    def release(self) -> None:
        self.__exit__()

    def __enter__(self) -> FairLock:
        with self._guard:
            if not self._held:
                self._held = True
                return self
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the holder before us, which hands the lock over
        return self

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False


def _keyed_queues() -> Any:
    from modeldepot.db.queues import KeyedQueues

    return KeyedQueues()


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT of ``conn``'s dialect, which offers ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (SQLite and PostgreSQL spell them alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# SQLSTATE of PostgreSQL's disk_full.
_PG_DISK_FULL = "53100"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (a driver error, or SQLAlchemy's wrapper of one) says the
    database's disk is full."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == _PG_DISK_FULL


def _raise_if_full(exc: BaseException) -> None:
    if is_disk_full(exc):
        raise InsufficientStorage(
            "the database's disk is full: free space on it (or run `modeldepot gc`), "
            "then try again",
            resource="database",
        ) from exc


def _is_file(database: str | None) -> bool:
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def _create_engine(url: str, *, echo: bool, options: dict[str, Any]) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        server_engine = create_engine(
            url, echo=echo, execution_options=options, pool_size=10, max_overflow=30
        )
        ping_when_idle(server_engine)
        return server_engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        execution_options=options,
        pool_size=10,
        max_overflow=30,
        # LIFO: reuse the most recent connection, whose page cache is warm; FIFO would
        # rotate through all of them, each re-reading pages the others changed.
        pool_use_lifo=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, so we choose its mode.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode never corrupts and survives process crashes; a power
        # loss may lose the last transactions, not earlier ones.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
