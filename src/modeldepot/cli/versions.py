"""``modeldepot versions list`` and ``modeldepot version show|files|delete|restore``."""

from __future__ import annotations

import click

from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    handle_errors,
    human_size,
    json_option,
    when,
)


@click.group()
def versions() -> None:
    """Versions of a model, newest first."""


@versions.command("list")
@click.argument("name")
@click.option("--deleted", is_flag=True, help="Include soft-deleted versions.")
@click.option("--limit", type=click.IntRange(1), help="At most this many.")
@json_option
@click.pass_context
@handle_errors
def list_versions(
    ctx: click.Context, name: str, deleted: bool, limit: int | None, as_json: bool
) -> None:
    """List the versions of model NAME."""
    items = client(ctx).list_versions(name, include_deleted=deleted, limit=limit)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["VERSION", "DIGEST", "SIZE", "FILES", "ALIASES", "CREATED", "BY"],
        [
            (
                f"{v.number}{' (deleted)' if v.deleted_at else ''}",
                v.digest[:19],
                human_size(v.total_size),
                v.file_count,
                ",".join(v.aliases),
                when(v.created_at),
                v.created_by,
            )
            for v in items
        ],
    )


@click.group()
def version() -> None:
    """One version: show, files, delete, restore."""


@version.command("show")
@click.argument("ref")
@click.option("--deleted", is_flag=True, help="Resolve deleted versions too.")
@json_option
@click.pass_context
@handle_errors
def show_version(ctx: click.Context, ref: str, deleted: bool, as_json: bool) -> None:
    """Show the version REF names."""
    v = client(ctx).get_version(ref, include_deleted=deleted)
    if as_json:
        emit_json(v)
        return
    emit_fields(
        [
            ("version", f"{v.model}:{v.number}"),
            ("digest", v.digest),
            ("description", v.description),
            ("aliases", v.aliases),
            ("size", f"{human_size(v.total_size)} in {v.file_count} files"),
            ("tags", v.tags),
            ("params", v.params),
            ("metrics", v.metrics),
            ("created", f"{when(v.created_at)} by {v.created_by}"),
            ("deleted", f"{when(v.deleted_at)} by {v.deleted_by}" if v.deleted_at else None),
        ]
    )


@version.command("files")
@click.argument("ref")
@json_option
@click.pass_context
@handle_errors
def version_files(ctx: click.Context, ref: str, as_json: bool) -> None:
    """List the files (the manifest) of the version REF names."""
    manifest = client(ctx).get_manifest(ref)
    if as_json:
        emit_json(manifest)
        return
    emit_table(
        ["PATH", "SIZE", "DIGEST", "TYPE"],
        [(f.path, human_size(f.size), f.digest[:19], f.media_type) for f in manifest.files],
    )


@version.command("delete")
@click.argument("ref")
@click.pass_context
@handle_errors
def delete_version(ctx: click.Context, ref: str) -> None:
    """Soft-delete a version; it stops resolving until restored."""
    v = client(ctx).delete_version(ref)
    ref = f"{v.model}:{v.number}"
    click.echo(f"deleted {ref} (restore with: modeldepot version restore {ref})")


@version.command("restore")
@click.argument("ref")
@click.pass_context
@handle_errors
def restore_version(ctx: click.Context, ref: str) -> None:
    """Restore a soft-deleted version (give it as NAME:NUMBER)."""
    v = client(ctx).restore_version(ref)
    click.echo(f"restored {v.model}:{v.number}")
