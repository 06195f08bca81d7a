"""``modeldepot audit list|export|verify`` and ``modeldepot watch``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from modeldepot.cli.common import client, emit_json, emit_table, handle_errors, json_option, when
from modeldepot.cli.server import with_storage

NOW = 2**53


def filter_options(func: Any) -> Any:
    options = [
        click.option("--model", help="Only records about this model."),
        click.option("--prefix", help="Only records about models under this prefix."),
        click.option("--principal", help="Only what this user or service account did."),
        click.option("--action", help="Only this action, or a family of them (alias.*)."),
        click.option("--since", metavar="TIME", help="From this instant on (ISO 8601)."),
        click.option("--until", metavar="TIME", help="Before this instant (ISO 8601)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group()
def audit() -> None:
    """The audit log: every change, who made it, hash-chained and signed."""


@audit.command("list")
@filter_options
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option
@click.pass_context
@handle_errors
def list_audit(ctx: click.Context, limit: int, as_json: bool, **filters: Any) -> None:
    """Records you may audit, newest first (maintainers: their models; admins: all)."""
    from modeldepot.client.audit import audit_params

    items = list(client(ctx).iter_json("/audit", audit_params(**filters), limit=limit))
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["SEQ", "WHEN", "WHO", "ACTION", "TARGET"],
        [(r["seq"], when(r["at"]), r["principal"], r["action"], r["target"]) for r in items],
    )


@audit.command("export")
@filter_options
@click.option("--after", type=click.IntRange(0), default=0, help="Only records after this seq.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@click.pass_context
@handle_errors
def export_audit(ctx: click.Context, after: int, output: Path | None, **filters: Any) -> None:
    """Records you may audit as JSON Lines, oldest first, each with its hash."""
    md = client(ctx)
    if output is None:
        md.export_audit(sys.stdout.buffer, after=after, **filters)
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".partial")
    with open(partial, "wb") as out:
        lines = md.export_audit(out, after=after, **filters)
    partial.replace(output)
    click.echo(f"exported {lines} records to {output}", err=True)


@audit.command("verify")
@with_storage
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check signatures with this key (PEM, public or private; repeatable) instead "
    "of MODELDEPOT_AUDIT_KEY_FILE.",
)
@click.option(
    "--every",
    type=click.IntRange(0),
    help="Expect a checkpoint at every multiple of this "
    "[MODELDEPOT_AUDIT_CHECKPOINT_RECORDS; 0: do not].",
)
@json_option
@handle_errors
def verify_audit(
    data_dir: Path | None,
    database_url: str | None,
    public_keys: tuple[Path, ...],
    every: int | None,
    as_json: bool,
) -> None:
    """Walk the whole audit chain and its signed checkpoints on the server's storage;
    exit 1 naming the first inconsistency."""
    from modeldepot.audit.signing import load_public
    from modeldepot.audit.verify import verify
    from modeldepot.config import ServerSettings
    from modeldepot.db.engine import Database
    from modeldepot.db.migrate import check_schema
    from modeldepot.errors import AuditChainBroken, AuditKeyInvalid

    settings = ServerSettings.from_env(data_dir=data_dir, database_url=database_url)
    key_files = list(public_keys) or [settings.resolved_audit_key_file]
    try:
        keys = [load_public(path) for path in key_files]
    except FileNotFoundError:
        raise AuditKeyInvalid(
            f"no audit signing key at {key_files[0]}: set MODELDEPOT_AUDIT_KEY_FILE or "
            "pass --public-key"
        ) from None
    database = Database(settings.resolved_database_url)
    try:
        # As every operator command: a schema behind the code's is upgraded when
        # MODELDEPOT_AUTO_MIGRATE allows, else refused.
        check_schema(database.engine, migrate=settings.auto_migrate)
        found = verify(
            database, keys, every=settings.audit_checkpoint_records if every is None else every
        )
    finally:
        database.dispose()
    if as_json:
        import dataclasses

        emit_json(dataclasses.asdict(found))
        if not found.ok:
            sys.exit(1)
        return
    if found.problem is not None:
        raise AuditChainBroken(found.problem.detail, seq=found.problem.seq)
    last = f"last {found.last_checkpoint}" if found.last_checkpoint else "none yet"
    click.echo(
        f"audit log OK: {found.records} records (head {found.last_seq}, "
        f"{found.last_hash[:16]}), {found.checkpoints} signed checkpoints ({last}), "
        f"key {', '.join(found.key_ids)}, in {found.seconds:.2f} s"
    )


@click.command()
@click.argument("prefix", required=False)
@click.option("--action", help="Only this action, or a family of them (alias.*).")
@click.option(
    "--after", type=click.IntRange(0), default=None, help="Start after this seq (default: now)."
)
@json_option
@click.pass_context
@handle_errors
def watch(
    ctx: click.Context, prefix: str | None, action: str | None, after: int | None, as_json: bool
) -> None:
    """Print changes as they happen (to models under PREFIX), one line each.

    Each line starts with the change's seq: run again with --after SEQ to resume
    where you stopped, missing nothing.
    """
    import json

    md = client(ctx)
    if after is None:
        # A cursor past the end answers the end: the cursor of "now".
        after = md.events(after=NOW).next_after
    # On stderr, so that standard output holds only the changes.
    click.echo(f"watching changes after {after} (Ctrl-C to stop)", err=True)
    for event in md.follow_events(after=after, prefix=prefix, action=action):
        if as_json:
            click.echo(json.dumps(event.model_dump(mode="json"), ensure_ascii=False))
        else:
            click.echo(
                f"{event.seq}  {when(event.at)}  {event.principal}  {event.action}  {event.target}"
            )
