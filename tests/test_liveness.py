"""A pooled PostgreSQL connection is pinged only after sitting idle, and a dead idle one
is replaced without the request seeing it (db/liveness.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from modeldepot.db.liveness import ping_when_idle
from tests.conftest import BACKENDS, POSTGRES_URL

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL only")

IDLE = 0.2


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds=IDLE)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        seen.append(1)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_connection_in_steady_use_is_not_pinged(engine: sa.Engine, pings: list[int]) -> None:
    first = _backend_pid(engine)
    for _ in range(20):
        assert _backend_pid(engine) == first
    assert pings == []


def test_an_idle_connection_is_pinged_once_on_checkout(engine: sa.Engine, pings: list[int]) -> None:
    first = _backend_pid(engine)
    time.sleep(IDLE * 2)
    assert _backend_pid(engine) == first
    assert len(pings) == 1


def test_a_dead_idle_connection_is_replaced_before_the_request_sees_it(
    engine: sa.Engine, pings: list[int]
) -> None:
    first = _backend_pid(engine)
    killer = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
    killer.dispose()
    time.sleep(IDLE * 2)
    assert _backend_pid(engine) != first  # a new connection, and no error
    assert len(pings) == 1
