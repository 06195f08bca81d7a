"""``modeldepot models …``: list, show, create, update, delete, restore."""

from __future__ import annotations

import click

from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    parse_pairs,
    when,
)


@click.group()
def models() -> None:
    """Models: named lines of work such as ads/recommender."""


@models.command("list")
@click.option("--prefix", help="Only names starting with this (e.g. a namespace 'ads/').")
@click.option("--deleted", is_flag=True, help="Include soft-deleted models.")
@click.option("--limit", type=click.IntRange(1), help="At most this many.")
@json_option
@click.pass_context
@handle_errors
def list_models(
    ctx: click.Context, prefix: str | None, deleted: bool, limit: int | None, as_json: bool
) -> None:
    """List models by name."""
    items = client(ctx).list_models(prefix=prefix, include_deleted=deleted, limit=limit)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["NAME", "LATEST", "UPDATED", "DESCRIPTION"],
        [
            (
                m.name + (" (deleted)" if m.deleted_at else ""),
                m.latest_version,
                when(m.updated_at),
                m.description.splitlines()[0] if m.description else "",
            )
            for m in items
        ],
    )


@models.command("show")
@click.argument("name")
@click.option("--deleted", is_flag=True, help="Show the model even if it is deleted.")
@json_option
@click.pass_context
@handle_errors
def show_model(ctx: click.Context, name: str, deleted: bool, as_json: bool) -> None:
    """Show one model."""
    md = client(ctx)
    model = md.get_model(name, include_deleted=deleted)
    if as_json:
        emit_json(model)
        return
    aliases = md.list_aliases(name) if not model.deleted_at else []
    emit_fields(
        [
            ("name", model.name),
            ("description", model.description),
            ("tags", model.tags),
            ("latest", model.latest_version),
            ("aliases", [f"{a.name}={a.version}" for a in aliases]),
            ("created", f"{when(model.created_at)} by {model.created_by}"),
            ("updated", f"{when(model.updated_at)} by {model.updated_by}"),
            (
                "deleted",
                f"{when(model.deleted_at)} by {model.deleted_by}" if model.deleted_at else None,
            ),
        ]
    )


@models.command("create")
@click.argument("name")
@click.option("-d", "--description", default="")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE")
@json_option
@click.pass_context
@handle_errors
def create_model(
    ctx: click.Context, name: str, description: str, tags: tuple[str, ...], as_json: bool
) -> None:
    """Create an empty model (pushing creates it too)."""
    model = client(ctx).create_model(name, description=description, tags=parse_pairs(tags, "--tag"))
    emit_json(model) if as_json else click.echo(f"created {model.name}")


@models.command("update")
@click.argument("name")
@click.option("-d", "--description", default=None)
@json_option
@click.pass_context
@handle_errors
def update_model(ctx: click.Context, name: str, description: str | None, as_json: bool) -> None:
    """Change a model's description."""
    model = client(ctx).update_model(name, description=description)
    emit_json(model) if as_json else click.echo(f"updated {model.name}")


@models.command("delete")
@click.argument("name")
@click.pass_context
@handle_errors
def delete_model(ctx: click.Context, name: str) -> None:
    """Soft-delete a model: nothing of it resolves until restored."""
    client(ctx).delete_model(name)
    click.echo(f"deleted {name} (restore with: modeldepot models restore {name})")


@models.command("restore")
@click.argument("name")
@click.pass_context
@handle_errors
def restore_model(ctx: click.Context, name: str) -> None:
    """Restore a soft-deleted model."""
    client(ctx).restore_model(name)
    click.echo(f"restored {name}")
