"""``modeldepot models …``: list, show, create, update, delete, restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    first_line,
    handle_errors,
    json_option,
    parse_pairs,
    when,
)

if TYPE_CHECKING:
    from modeldepot.client.client import Client
    from modeldepot.errors import ModeldepotError


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
    """List models by name (their own descriptions; a version's is in versions list)."""
    # Read as JSON, not as SDK models: printing needs no validation (see Client.get_json).
    params = {"prefix": prefix, "include_deleted": deleted or None}
    items = list(client(ctx).iter_json("/models", params, limit=limit))
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["NAME", "LATEST", "UPDATED", "DESCRIPTION"],
        [
            (
                m["name"] + (" (deleted)" if m.get("deleted_at") else ""),
                m.get("latest_version"),
                when(m["updated_at"]),
                first_line(m.get("description")),
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
    from modeldepot.client.paths import model_path

    md = client(ctx)
    # Read as JSON, not as SDK models: printing needs no validation (see Client.get_json).
    model = md.get_json(model_path(name), {"include_deleted": deleted or None})
    if as_json:
        emit_json(model)
        return
    aliases = [] if model.get("deleted_at") else list(md.iter_json(f"{model_path(name)}/-/aliases"))
    completeness = model.get("card_completeness")
    emit_fields(
        [
            ("name", model["name"]),
            ("description", model.get("description")),
            ("tags", model.get("tags") or {}),
            ("latest", model.get("latest_version")),
            ("owner", model.get("owner")),
            ("contacts", model.get("contacts") or []),
            (
                "risk",
                f"{model.get('risk_level')} ({model['risk_reason']})"
                if model.get("risk_reason")
                else model.get("risk_level"),
            ),
            ("card", f"{completeness:.0%} complete" if completeness is not None else None),
            (
                "aliases",
                [
                    f"{a['name']}={a['version']}"
                    + (
                        f" ({a['version_status'].upper()})"
                        if a.get("version_status", "active") != "active"
                        else ""
                    )
                    for a in aliases
                ],
            ),
            ("created", f"{when(model['created_at'])} by {model['created_by']}"),
            ("updated", f"{when(model['updated_at'])} by {model['updated_by']}"),
            (
                "deleted",
                f"{when(model['deleted_at'])} by {model.get('deleted_by')}"
                if model.get("deleted_at")
                else None,
            ),
        ]
    )


RISK = click.Choice(["minimal", "limited", "high", "unacceptable"])
owner_option = click.option("--owner", help="Team or person that owns the model.")
contact_option = click.option(
    "--contact", "contacts", multiple=True, help="Contact (e-mail, channel); repeatable."
)
risk_option = click.option("--risk", "risk_level", type=RISK, help="EU AI Act risk tier.")
reason_option = click.option("--risk-reason", help="Why the model has this risk level.")


@models.command("create")
@click.argument("name")
@click.option("-d", "--description", default="")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE")
@owner_option
@contact_option
@risk_option
@reason_option
@json_option
@click.pass_context
@handle_errors
def create_model(
    ctx: click.Context,
    name: str,
    description: str,
    tags: tuple[str, ...],
    owner: str | None,
    contacts: tuple[str, ...],
    risk_level: str | None,
    risk_reason: str | None,
    as_json: bool,
) -> None:
    """Create an empty model (pushing creates it too)."""
    model = client(ctx).create_model(
        name,
        description=description,
        tags=parse_pairs(tags, "--tag"),
        owner=owner,
        contacts=contacts,
        risk_level=risk_level,
        risk_reason=risk_reason or "",
    )
    emit_json(model) if as_json else click.echo(f"created {model.name}")


@models.command("update")
@click.argument("name")
@click.option("-d", "--description", default=None)
@owner_option
@contact_option
@risk_option
@reason_option
@json_option
@click.pass_context
@handle_errors
def update_model(
    ctx: click.Context,
    name: str,
    description: str | None,
    owner: str | None,
    contacts: tuple[str, ...],
    risk_level: str | None,
    risk_reason: str | None,
    as_json: bool,
) -> None:
    """Change a model's description, owner, contacts or risk (what is given)."""
    model = client(ctx).update_model(
        name,
        description=description,
        owner=owner,
        contacts=contacts or None,
        risk_level=risk_level,
        risk_reason=risk_reason,
    )
    emit_json(model) if as_json else click.echo(f"updated {model.name}")


@models.group("card")
def card() -> None:
    """The model card: show, set, init, rm."""


@card.command("show")
@click.argument("name")
@json_option
@click.pass_context
@handle_errors
def show_card(ctx: click.Context, name: str, as_json: bool) -> None:
    """Print the card of NAME (and on stderr its completeness)."""
    found = client(ctx).get_card(name)
    if as_json:
        emit_json(found)
        return
    if found.card is None:
        raise _no_card(client(ctx), name)
    click.echo(found.card, nl=not found.card.endswith("\n"))
    missing = ", ".join(found.missing) or "none"
    click.echo(f"{found.completeness:.0%} complete; missing: {missing}", err=True)


def _no_card(md: Client, name: str) -> ModeldepotError:
    """CardNotFound for a model without a card, pointing at its latest version's card
    when that has one (``push --card`` and ``push_model(card=…)`` describe a version)."""
    from modeldepot.errors import CardNotFound, VersionNotFound

    start = f"start one with: modeldepot models card init {name}"
    try:
        latest = md.get_version(name)
    except VersionNotFound:
        return CardNotFound(f"{name} has no card ({start})")
    if latest.card_completeness is None:
        return CardNotFound(f"{name} has no card ({start})")
    ref = f"{name}:{latest.number}"
    return CardNotFound(
        f"{name} has no model card, but its version {latest.number} has one of its own: "
        f"modeldepot version card show {ref} ({start})"
    )


@card.command("set")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@handle_errors
def set_card(ctx: click.Context, name: str, file: Path) -> None:
    """Replace the card of NAME with the Markdown FILE."""
    found = client(ctx).set_card(name, file)
    missing = ", ".join(found.missing) or "none"
    click.echo(f"card of {name} set: {found.completeness:.0%} complete; missing: {missing}")


@card.command("init")
@click.argument("name")
def init_card(name: str) -> None:
    """Print a starter card for NAME with every known section."""
    from modeldepot.cards import card_template

    click.echo(card_template(name), nl=False)


@card.command("rm")
@click.argument("name")
@click.pass_context
@handle_errors
def remove_card(ctx: click.Context, name: str) -> None:
    """Remove the card of NAME."""
    client(ctx).delete_card(name)
    click.echo(f"card of {name} removed")


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
