"""Operator commands that use the server's own storage: ``serve``, ``gc``, ``db``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from modeldepot.cli.common import emit_json, handle_errors, human_size, json_option

storage_options = [
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Data directory [MODELDEPOT_DATA_DIR].",
    ),
    click.option("--database-url", help="Metadata database URL [MODELDEPOT_DATABASE_URL]."),
]


def with_storage(func: Any) -> Any:
    for option in reversed(storage_options):
        func = option(func)
    return func


@click.command()
@click.option("--host", help="Listen address [MODELDEPOT_HOST, default 127.0.0.1].")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Listen port [MODELDEPOT_PORT, default 8470]."
)
@with_storage
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="[MODELDEPOT_LOG_LEVEL]",
)
@handle_errors
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    database_url: str | None,
    log_level: str | None,
) -> None:
    """Run the registry server (REST API and OpenAPI docs)."""
    import uvicorn

    from modeldepot.config import ServerSettings
    from modeldepot.server.app import create_app
    from modeldepot.server.protocol import BulkBodyProtocol

    settings = ServerSettings.from_env(
        host=host, port=port, data_dir=data_dir, database_url=database_url, log_level=log_level
    )
    app = create_app(settings)
    where = (settings.database_url and "the configured database") or settings.data_dir
    click.echo(
        f"modeldepot serving on http://{settings.host}:{settings.port} "
        f"(API docs at /api/v1/docs, data in {where})",
        err=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        http=BulkBodyProtocol,
        loop="uvloop",
        timeout_graceful_shutdown=30,
        server_header=False,
    )


@click.command()
@with_storage
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option(
    "--grace", type=click.IntRange(0), help="Grace period in seconds [MODELDEPOT_GC_GRACE_SECONDS]."
)
@json_option
@handle_errors
def gc(
    data_dir: Path | None, database_url: str | None, dry_run: bool, grace: int | None, as_json: bool
) -> None:
    """Remove blobs no version references, abandoned uploads and orphaned files."""
    from modeldepot.config import ServerSettings
    from modeldepot.registry import Registry

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    registry = Registry.from_settings(settings)
    try:
        report = registry.gc.collect(dry_run=dry_run, grace_seconds=grace)
    finally:
        registry.close()
    if as_json:
        emit_json(report)
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {report.blobs_deleted} blobs ({human_size(report.bytes_freed)}), "
        f"{report.uploads_expired} expired uploads, {report.staged_removed} orphaned staging files"
    )


@click.group()
def db() -> None:
    """The metadata database's schema."""


@db.command("upgrade")
@with_storage
@handle_errors
def db_upgrade(data_dir: Path | None, database_url: str | None) -> None:
    """Apply every pending migration."""
    from modeldepot.config import ServerSettings
    from modeldepot.db.engine import Database
    from modeldepot.db.migrate import current_revision, upgrade

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    database = Database(settings.resolved_database_url)
    try:
        upgrade(database.engine)
        click.echo(f"database at revision {current_revision(database.engine)}")
    finally:
        database.dispose()


@db.command("current")
@with_storage
@json_option
@handle_errors
def db_current(data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Print the schema revision of the database and the one this version expects."""
    from modeldepot.config import ServerSettings
    from modeldepot.db.engine import Database
    from modeldepot.db.migrate import current_revision, head_revision

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    database = Database(settings.resolved_database_url)
    try:
        current, expected = current_revision(database.engine), head_revision()
    finally:
        database.dispose()
    if as_json:
        emit_json({"current": current, "expected": expected, "up_to_date": current == expected})
        return
    click.echo(f"current: {current or 'empty'}; expected: {expected}")
