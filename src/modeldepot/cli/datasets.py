"""``modeldepot dataset list|usage|impact|revoke``: data and the models made from it."""

from __future__ import annotations

import click

from modeldepot.cli import lifecycle as lifecycle_cli
from modeldepot.cli.common import client, emit_json, emit_table, handle_errors, json_option


@click.group()
def dataset() -> None:
    """Datasets: list them, find the versions and aliases that used one, revoke them."""


@dataset.command("list")
@click.option("--uri-prefix", help="Only URIs starting with this.")
@click.option("--personal", is_flag=True, default=None, help="Only datasets with personal data.")
@click.option("--limit", type=click.IntRange(1), help="At most this many.")
@json_option
@click.pass_context
@handle_errors
def list_datasets(
    ctx: click.Context,
    uri_prefix: str | None,
    personal: bool | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List recorded datasets."""
    items = client(ctx).list_datasets(uri_prefix=uri_prefix, personal_data=personal, limit=limit)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["ID", "URI", "DIGEST", "NAME", "PERSONAL"],
        [(d.id, d.uri, d.digest[:19], d.name, "yes" if d.personal_data else "") for d in items],
    )


@dataset.command("usage")
@click.argument("uri")
@click.option("--digest", help="Only this snapshot of the dataset.")
@click.option("--deleted", is_flag=True, help="Include deleted versions.")
@json_option
@click.pass_context
@handle_errors
def usage(ctx: click.Context, uri: str, digest: str | None, deleted: bool, as_json: bool) -> None:
    """Which versions used the dataset at URI?"""
    items = client(ctx).dataset_usage(uri, digest, include_deleted=deleted)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["VERSION", "ROLE", "DIGEST"],
        [
            (f"{u.model}:{u.number}{' (deleted)' if u.deleted else ''}", u.role, u.digest[:19])
            for u in items
        ],
    )


@dataset.command("impact")
@click.argument("uri")
@click.option("--digest", help="Only this snapshot of the dataset.")
@json_option
@click.pass_context
@handle_errors
def impact(ctx: click.Context, uri: str, digest: str | None, as_json: bool) -> None:
    """Which aliases point at versions that used the dataset at URI?"""
    items = client(ctx).dataset_impact(uri, digest)
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo(f"no alias points at a version that used {uri}")
        return
    emit_table(
        ["ALIAS", "VERSION", "ROLE", "DIGEST"],
        [(f"{i.model}@{i.alias}", f"{i.model}:{i.number}", i.role, i.digest[:19]) for i in items],
    )


# Attached here, defined with the other lifecycle commands.
dataset.add_command(lifecycle_cli.revoke_dataset)
