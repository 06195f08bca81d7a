"""Operator commands that use the server's own storage: ``serve``, ``gc``, ``db``."""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from modeldepot.cli.common import emit_json, handle_errors, human_size, json_option

if TYPE_CHECKING:
    from modeldepot.config import ServerSettings
    from modeldepot.registry import Registry

# How long a stopping server lets requests in flight finish (a deployment's grace
# period before SIGKILL must be longer).
GRACEFUL_SHUTDOWN_SECONDS = 30

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
@click.option(
    "--log-format",
    metavar="text|json",
    help="Log lines for people or for collectors [MODELDEPOT_LOG_FORMAT, default text].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    help="Server processes, e.g. one per core [MODELDEPOT_WORKERS, default 1].",
)
@handle_errors
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    database_url: str | None,
    log_level: str | None,
    log_format: str | None,
    workers: int | None,
) -> None:
    """Run the registry server (REST API and OpenAPI docs).

    Refuses to start on a database whose schema is not the one this release expects;
    on SIGTERM it finishes the requests in flight (up to 30 s) and exits 0.
    """
    from modeldepot.config import ServerSettings
    from modeldepot.server.heap import collection_held

    settings = ServerSettings.from_env(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        log_level=log_level,
        log_format=log_format,
        workers=workers,
    )
    public_anonymous_write = _check_anonymous(settings)
    # Bound before anything else (even the imports below, a second or more), so that a
    # taken port is said at once, and the banner below tells the truth.
    sock = _listen_socket(settings.host, settings.port)
    # No collection while starting: it would only walk objects that live for ever.
    with collection_held():
        import logging
        import logging.config

        from prometheus_client import disable_created_metrics

        from modeldepot.server.allocator import tune_allocator
        from modeldepot.server.logs import logging_config

        try:
            log_config = logging_config(settings.log_format, settings.log_level)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--log-format") from None
        # Configured now, so that lines written while starting take the chosen format.
        logging.config.dictConfig(log_config)
        if public_anonymous_write:
            logging.getLogger("modeldepot.server").warning(
                "anonymous write on %s: anyone who reaches this address can push, move "
                "aliases and delete (MODELDEPOT_ALLOW_PUBLIC_ANONYMOUS_WRITE is set)",
                settings.host,
            )
        # The *_created series double what a scrape returns and no dashboard reads them.
        disable_created_metrics()
        tune_allocator()
        registry = _open_registry(settings)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        where = (settings.database_url and "the configured database") or settings.data_dir
        workers_note = f", {settings.workers} workers" if settings.workers > 1 else ""
        banner = (
            f"modeldepot serving on http://{shown}:{port} "
            f"(API docs at /api/v1/docs, data in {where}{workers_note})"
        )
        if settings.log_format == "json":
            logging.getLogger("modeldepot.server").info(banner)
        else:
            click.echo(banner, err=True)
        if settings.workers == 1:
            sys.exit(_serve_one(settings, sock, log_config, registry))
        from modeldepot.server.app import create_first_admin
        from modeldepot.server.workers import run_workers

        try:
            # Before forking: the first admin is made once, and no worker inherits
            # the parent's database connections or threads.
            create_first_admin(registry)
        finally:
            registry.close()
        status = run_workers(settings.workers, lambda: _serve_one(settings, sock, log_config, None))
        sock.close()
        sys.exit(status)


def _serve_one(
    settings: ServerSettings, sock: socket.socket, log_config: dict[str, Any], registry: Any
) -> int:
    """Serve on ``sock`` until stopped (``registry``: already open, else opened here);
    the exit status."""
    import signal

    import uvicorn

    from modeldepot.server.app import create_app
    from modeldepot.server.fastpath import http_protocol
    from modeldepot.server.heap import freeze_startup_heap
    from modeldepot.server.readwatch import ReadTimeouts

    registry = registry or _open_registry(settings)
    try:
        app = create_app(settings, registry)
        # uvicorn drains in-flight requests on SIGTERM, then raises the signal again
        # with the handler it found: this one, so a drained server exits with status 0.
        signal.signal(signal.SIGTERM, _exit_drained)
        freeze_startup_heap(settings.gc_freeze)
        config = uvicorn.Config(
            app,
            log_level=settings.log_level,
            log_config=log_config,
            access_log=settings.log_format != "json",
            http=http_protocol(
                settings.http_fast_path,
                ReadTimeouts(settings.header_timeout_seconds, settings.body_timeout_seconds),
            ),
            loop="uvloop",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            server_header=False,
        )
        server = uvicorn.Server(config)
        try:
            server.run(sockets=[sock])
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0
        # As uvicorn.run: status 3 when the application failed to start.
        return 0 if server.started else 3
    finally:
        registry.close()


def _check_anonymous(settings: ServerSettings) -> bool:
    """Refuse anonymous write on a non-loopback address unless confirmed; True when it
    is confirmed (and so deserves a warning)."""
    from modeldepot.errors import PublicAnonymousWrite

    if settings.anonymous != "write" or _is_loopback(settings.host):
        return False
    if not settings.allow_public_anonymous_write:
        raise PublicAnonymousWrite(
            f"MODELDEPOT_ANONYMOUS=write on {settings.host} would let anyone who reaches it "
            "change the registry; listen on 127.0.0.1, use MODELDEPOT_ANONYMOUS=read, or "
            "confirm with MODELDEPOT_ALLOW_PUBLIC_ANONYMOUS_WRITE=1"
        )
    return True


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (port 0: any free one), ready to listen.

    Raises PortInUse or ListenFailed, naming the flags and settings that choose another.
    """
    from modeldepot.errors import ListenFailed, PortInUse

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn does: a restarted server may bind while old connections linger.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{host}:{port} is already in use (another modeldepot serve?); choose "
                "another port with --port or MODELDEPOT_PORT"
            ) from None
        raise ListenFailed(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another "
            "address with --host/--port or MODELDEPOT_HOST/MODELDEPOT_PORT"
        ) from None
    sock.set_inheritable(True)
    return sock


def _exit_drained(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _open_registry(settings: ServerSettings) -> Registry:
    """The registry of ``settings``; a schema it cannot serve ends the command with one line."""
    from modeldepot.db.migrate import SchemaMismatch
    from modeldepot.registry import Registry

    try:
        return Registry.from_settings(settings)
    except SchemaMismatch as exc:
        _refuse(exc)


def _refuse(exc: Exception) -> NoReturn:
    click.echo(f"modeldepot: error: {exc}", err=True)
    sys.exit(1)


class Age(click.ParamType):
    """A duration: seconds, or a number with ``s``, ``m``, ``h`` or ``d`` (``90m``)."""

    name = "age"
    _UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip().lower()
        unit = self._UNITS.get(text[-1:], None)
        number = text[:-1] if unit else text
        if not number.isdigit():
            self.fail(f"{value!r} is not an age such as 3600, 90m, 12h or 2d", param, ctx)
        return int(number) * (unit or 1)


@click.command()
@with_storage
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option(
    "--grace", type=click.IntRange(0), help="Grace period in seconds [MODELDEPOT_GC_GRACE_SECONDS]."
)
@click.option(
    "--stale-uploads",
    "stale_uploads",
    type=Age(),
    metavar="AGE",
    help="Also reclaim upload sessions untouched for AGE (e.g. 2h; default "
    "MODELDEPOT_UPLOAD_EXPIRY_SECONDS) and staged bytes no session owns that old.",
)
@json_option
@handle_errors
def gc(
    data_dir: Path | None,
    database_url: str | None,
    dry_run: bool,
    grace: int | None,
    stale_uploads: int | None,
    as_json: bool,
) -> None:
    """Remove blobs no version references, abandoned uploads and orphaned files."""
    from modeldepot.config import ServerSettings
    from modeldepot.security.context import Context

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    registry = _open_registry(settings)
    try:
        # Whoever can run it on the server's storage owns the data already; the audit
        # log names the run ``gc``.
        report = registry.gc.collect(
            Context.system("gc"),
            dry_run=dry_run,
            grace_seconds=grace,
            stale_upload_seconds=stale_uploads,
        )
    finally:
        registry.close()
    if as_json:
        emit_json(report)
        return
    if report.skipped:
        click.echo("another process is collecting garbage on this database; skipped")
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
    """Apply every pending migration (refused on a schema newer than this release)."""
    from modeldepot.config import ServerSettings
    from modeldepot.db.engine import Database
    from modeldepot.db.migrate import SchemaMismatch, check_schema, current_revision

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    database = Database(settings.resolved_database_url)
    try:
        check_schema(database.engine, migrate=True)
        click.echo(f"database at revision {current_revision(database.engine)}")
    except SchemaMismatch as exc:
        _refuse(exc)
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
