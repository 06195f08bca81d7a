"""Prepared statements: the same rows as Core execution, on SQLite and PostgreSQL, and
Core execution instead where they are turned off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, select, update

from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.prepared import Prepared
from modeldepot.db.tables import models, versions
from modeldepot.digest import digest_bytes
from modeldepot.registry import Registry
from modeldepot.schemas import FileEntry, VersionCreate
from modeldepot.security.context import Context

NOW = datetime(2026, 3, 3, 10, 30, 15, 123456, tzinfo=UTC)


def _model_values(name: str) -> dict[str, object]:
    return {
        "name": name,
        "description": "d",
        "last_version_number": 0,
        "contacts": ["a@example.com"],
        "risk_reason": "",
        "created_at": NOW,
        "created_by": "alice",
        "updated_at": NOW,
        "updated_by": "alice",
    }


def test_prepared_insert_stores_what_core_stores(db: Database) -> None:
    statement = Prepared(insert(models).returning(models.c.id))
    with db.write() as conn:
        prepared_id = statement.execute(conn, _model_values("p/prepared")).fetchone()[0]
        core_id = conn.execute(
            insert(models).values(**_model_values("p/core")).returning(models.c.id)
        ).scalar_one()
    with db.read() as conn:
        rows = conn.execute(
            select(models).where(models.c.id.in_([prepared_id, core_id])).order_by(models.c.id)
        ).all()
    first, second = (row._asdict() for row in rows)
    for row in (first, second):
        row.pop("id")
        row.pop("name")
    # Type processing ran: the UTC datetime and the JSON list read back alike.
    assert first == second
    assert first["created_at"] == NOW and first["contacts"] == ["a@example.com"]


def test_prepared_update_keeps_the_statements_own_literals(db: Database) -> None:
    with db.write() as conn:
        model_id = (
            Prepared(insert(models).returning(models.c.id))
            .execute(conn, _model_values("p/counter"))
            .fetchone()[0]
        )
    bump = Prepared(
        update(models)
        .where(models.c.id == bindparam("model_id"))
        .values(last_version_number=models.c.last_version_number + 1)
        .returning(models.c.last_version_number)
    )
    with db.write() as conn:
        numbers = [bump.execute(conn, {"model_id": model_id}).fetchone()[0] for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_prepared_executemany_and_rollback_with_the_transaction(db: Database) -> None:
    statement = Prepared(insert(models))
    with pytest.raises(RuntimeError), db.write() as conn:
        statement.executemany(conn, [_model_values(f"p/many-{i}") for i in range(3)])
        raise RuntimeError("abort")
    with db.write() as conn:
        statement.executemany(conn, [_model_values(f"p/many-{i}") for i in range(3)])
        statement.executemany(conn, [])
    with db.read() as conn:
        names = conn.execute(select(models.c.name).where(models.c.name.like("p/many-%"))).all()
    assert len(names) == 3


def test_prepared_refuses_to_leave_out_a_column_with_a_python_default(db: Database) -> None:
    # versions.lineage has a Python-side default (dict): Prepared must not write NULL.
    with db.write() as conn, pytest.raises(ValueError, match="lineage"):
        Prepared(insert(versions)).execute(
            conn,
            {
                "model_id": 1,
                "number": 1,
                "digest": "sha256:" + "0" * 64,
                "description": "",
                "total_size": 0,
                "file_count": 0,
                "created_at": NOW,
                "created_by": "a",
                "updated_at": NOW,
                "updated_by": "a",
            },
        )


def test_prepared_refuses_expanding_parameters(db: Database) -> None:
    statement = Prepared(
        select(models.c.id).where(models.c.name.in_(bindparam("names", expanding=True)))
    )
    with db.read() as conn, pytest.raises(ValueError, match="expand"):
        statement.execute(conn, {"names": ["a"]})


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "core"])
def test_a_version_create_runs_its_hot_statements_prepared_unless_turned_off(
    db: Database, settings: ServerSettings, prepared: bool
) -> None:
    database = Database(settings.resolved_database_url, prepared=prepared)
    registry = Registry(database, LocalBlobStore(settings.blob_dir, fsync=False), settings)
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    data = b"weights"
    ctx = Context.system("tester")
    try:
        session = registry.uploads.create_upload(ctx, digest_bytes(data), len(data), model="p/x")
        writer = registry.uploads.open_writer(ctx, session.id, 0)
        writer.write(data)
        writer.close()
        registry.uploads.complete_upload(ctx, session.id)
        create = VersionCreate(
            files=[FileEntry(path="w.bin", size=len(data), digest=digest_bytes(data))],
            tags={"stage": "dev"},
            params={"lr": 0.1},
            metrics={"auc": 0.9},
        )
        created, _ = registry.versions.create_version(ctx, "p/switch", create)
        read = registry.versions.get_version(ctx, "p/switch", created.number)
        manifest = registry.versions.get_manifest(ctx, "p/switch:1")
    finally:
        database.dispose()
    # SQLAlchemy's execution (its events, echo) sees the hot statements only when off.
    assert any(s.startswith("INSERT INTO versions ") for s in seen) is not prepared
    if database.is_sqlite:
        assert not any(s.startswith("UPDATE versions SET number") for s in seen)
    else:  # numbered last, under the model's counter (db/hotpath.py)
        assert any("UPDATE versions SET number" in s for s in seen) is not prepared
    assert (read.number, read.tags, read.params, read.metrics) == (
        1,
        {"stage": "dev"},
        {"lr": 0.1},
        {"auc": 0.9},
    )
    assert [f.path for f in manifest.files] == ["w.bin"]


def test_a_push_to_a_model_runs_seven_statements_on_postgresql(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each statement is a round trip on PostgreSQL: a retry-safe push to an existing
    model looks up the model and its push id together, claims its blobs, inserts the
    version and its file, numbers it, indexes it and appends its audit record."""
    if registry.db.is_sqlite:
        pytest.skip("PostgreSQL: SQLite's statements are calls, not round trips")
    import psycopg

    data = b"weights"
    ctx = Context.system("tester")
    session = registry.uploads.create_upload(ctx, digest_bytes(data), len(data), model="p/n")
    writer = registry.uploads.open_writer(ctx, session.id, 0)
    writer.write(data)
    writer.close()
    registry.uploads.complete_upload(ctx, session.id)
    files = [FileEntry(path="w.bin", size=len(data), digest=digest_bytes(data))]
    registry.versions.create_version(ctx, "p/n", VersionCreate(files=files, push_id="a"))
    sent: list[str] = []
    real = psycopg.Cursor.execute

    def counted(self: psycopg.Cursor, query: object, *args: object, **kwargs: object) -> object:
        sent.append(str(query))
        return real(self, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    created, new = registry.versions.create_version(
        ctx, "p/n", VersionCreate(files=files, push_id="b")
    )
    again, repeated = registry.versions.create_version(
        ctx, "p/n", VersionCreate(files=files, push_id="b")
    )
    assert (created.number, new, again.number, repeated) == (2, True, 2, False)
    retry = [i for i, q in enumerate(sent) if q.startswith("SELECT models.id")][1]
    assert len(sent[:retry]) == 7, sent[:retry]
