"""Hot statements compiled once and run on the driver's own cursor.

SQLAlchemy's Core execution costs about 40 µs of Python per statement (execution
context, event dispatch, parameter and result wrapping) on top of the database's own
work. A version create runs about ten statements, so that was a third of its time.
``Prepared`` keeps each statement written once in Core, compiles it once per dialect
and set of keys, converts values with each column type's own bind processor, and runs
it on the DB-API cursor of the same connection, inside the same transaction.

It skips what those 40 µs buy, so it is for plain statements on hot paths only: no
execution events or echo, driver exceptions are not wrapped, rows come back as plain
tuples without result processing (select only columns that need none), and Python-side
column defaults are not run (leaving out a column that has one raises ``ValueError``
instead of writing NULL).

A connection whose execution options set ``PREPARED_OPTION`` to False (a ``Database``
opened with ``prepared=False``) runs the same statements through Core execution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None
# Execution option: False sends every Prepared statement through Core execution.
PREPARED_OPTION = "modeldepot_prepared"


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    binds: tuple[tuple[str, Processor], ...]  # in the order a positional driver needs
    fixed: Mapping[str, Any]  # values the statement itself carries (literals)

    def arguments(self, params: Mapping[str, Any]) -> Any:
        values = []
        for name, process in self.binds:
            value = params[name] if name in params else self.fixed[name]
            values.append(value if process is None else process(value))
        if self.positional:
            return values
        return dict(zip((name for name, _ in self.binds), values, strict=True))


class Prepared:
    """``statement`` ready to run many times with little overhead (see module doc)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run once; return the DB-API cursor (``fetchone()``/``fetchall()`` for
        RETURNING, ``rowcount``), or Core's result where prepared execution is off."""
        if not conn.get_execution_options().get(PREPARED_OPTION, True):
            return conn.execute(self.statement, dict(params))
        compiled = self._compile(conn.dialect, params)
        cursor = conn.connection.cursor()
        cursor.execute(compiled.sql, compiled.arguments(params))
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row; every row has the same keys."""
        if not rows:
            return
        if not conn.get_execution_options().get(PREPARED_OPTION, True):
            conn.execute(self.statement, [dict(row) for row in rows])
            return
        compiled = self._compile(conn.dialect, rows[0])
        cursor = conn.connection.cursor()
        cursor.executemany(compiled.sql, [compiled.arguments(row) for row in rows])
        cursor.close()

    def _compile(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        key = (dialect.name, tuple(params))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.statement, dialect, list(params))
        return found


def _compile(statement: Executable, dialect: Dialect, keys: list[str]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
    defaulted = {column.key for column in compiled.insert_prefetch + compiled.update_prefetch}
    order = compiled.positiontup if compiled.positional else list(compiled.binds)
    binds: list[tuple[str, Processor]] = []
    fixed: dict[str, Any] = {}
    for name in order:
        bind = compiled.binds[name]
        if bind.expanding:
            raise ValueError(f"Prepared cannot expand {name!r}; use Core execution")
        if name not in keys:
            if bind.required or name in defaulted or bind.value is None:
                raise ValueError(f"Prepared statement needs a value for {name!r}")
            fixed[name] = bind.value
        impl = bind.type.dialect_impl(dialect)
        binds.append((name, impl.bind_processor(dialect)))
    return _Compiled(compiled.string, bool(compiled.positional), tuple(binds), fixed)
