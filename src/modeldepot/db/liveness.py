"""Check a pooled connection is alive only when it may have died: after sitting idle.

SQLAlchemy's ``pool_pre_ping`` pings the server on every checkout, one round trip per
request even when the connection was returned a millisecond ago. A connection in
steady use proves itself alive on every statement; one that sat idle for longer than
``IDLE_PING_SECONDS`` (a database restart, an idle timeout on a proxy) is pinged on
checkout, and replaced when the ping finds it dead, so no request sees a dead
connection that was idle. A connection that dies while busy fails its request, as it
would with pre-ping too.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_PING_SECONDS = 1.0
_RETURNED = "modeldepot_returned_at"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping ``engine``'s connections on checkout after ``idle_seconds`` in the pool."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # new (just connected) or in steady use
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                # The pool drops this connection and checks out another.
                raise DisconnectionError("an idle connection was closed") from exc
            raise
