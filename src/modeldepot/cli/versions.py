"""``modeldepot versions list`` and ``modeldepot version show|files|delete|restore|…``.

The lineage subcommands (``lineage``, ``env``, ``diff``, ``graph``, ``relate``,
``unrelate``) live in ``modeldepot.cli.lineage`` and are attached to ``version`` here.
"""

from __future__ import annotations

from typing import Any

import click

from modeldepot.cli import lifecycle as lifecycle_cli
from modeldepot.cli import lineage as lineage_cli
from modeldepot.cli.common import (
    client,
    count,
    emit_fields,
    emit_json,
    emit_table,
    first_line,
    handle_errors,
    human_size,
    json_option,
    when,
)
from modeldepot.cli.lineage import lineage_fields


class NounGroup(click.Group):
    """A group with a sibling of a near name (``versions`` and ``version``): a
    subcommand that belongs to the sibling is refused with a pointer to it."""

    sibling: click.Group | None = None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        other = self.sibling
        if (
            name
            and other is not None
            and self.get_command(ctx, name) is None
            and other.get_command(ctx, name) is not None
        ):
            ctx.fail(f"No such command '{name}'; did you mean 'modeldepot {other.name} {name}'?")
        return super().resolve_command(ctx, args)


@click.group(cls=NounGroup)
def versions() -> None:
    """Versions of a model, newest first (one version: modeldepot version …)."""


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
    """List the versions of model NAME (with their descriptions)."""
    from modeldepot.client.paths import model_path

    # Read as JSON, not as SDK models: printing needs no validation (see Client.get_json).
    params = {"include_deleted": deleted or None}
    items = list(client(ctx).iter_json(f"{model_path(name)}/-/versions", params, limit=limit))
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["VERSION", "DIGEST", "SIZE", "FILES", "ALIASES", "CREATED", "BY", "DESCRIPTION"],
        [
            (
                f"{v['number']}{' (deleted)' if v.get('deleted_at') else ''}"
                f"{_marker(v.get('status'))}",
                v["digest"][:19],
                human_size(v["total_size"]),
                v["file_count"],
                ",".join(v.get("aliases") or []),
                when(v["created_at"]),
                v["created_by"],
                first_line(v.get("description")),
            )
            for v in items
        ],
    )


@click.group(cls=NounGroup)
def version() -> None:
    """One version: show, files, lineage, env, diff, graph, relate, delete, restore,
    deprecate, revoke, reinstate."""


@version.command("show")
@click.argument("ref")
@click.option("--deleted", is_flag=True, help="Resolve deleted versions too.")
@click.option(
    "--at", metavar="TIME", help="As of this instant (ISO 8601): where an alias pointed then."
)
@json_option
@click.pass_context
@handle_errors
def show_version(
    ctx: click.Context, ref: str, deleted: bool, at: str | None, as_json: bool
) -> None:
    """Show the version REF names, with its lineage."""
    md = client(ctx)
    v = md.resolve_at(ref, at) if at else md.get_version(ref, include_deleted=deleted)
    lineage = md.get_lineage(f"{v.model}:{v.number}")
    if as_json:
        emit_json({**v.model_dump(mode="json"), "lineage": lineage.model_dump(mode="json")})
        return
    warning = lifecycle_cli.banner(v)
    if warning is not None:
        click.echo(click.style(f"*** {warning} ***", fg="red", bold=True))
    emit_fields(
        [
            ("version", f"{v.model}:{v.number}"),
            ("status", _status_line(v)),
            ("digest", v.digest),
            ("description", v.description),
            ("aliases", v.aliases),
            ("size", f"{human_size(v.total_size)} in {count(v.file_count, 'file')}"),
            ("tags", v.tags),
            ("params", v.params),
            ("metrics", v.metrics),
            (
                "card",
                f"{v.card_completeness:.0%} complete "
                f"(modeldepot version card show {v.model}:{v.number})"
                if v.card_completeness is not None
                else None,
            ),
            ("created", f"{when(v.created_at)} by {v.created_by}"),
            ("deleted", f"{when(v.deleted_at)} by {v.deleted_by}" if v.deleted_at else None),
            *lineage_fields(lineage),
        ]
    )


@version.command("files")
@click.argument("ref")
@json_option
@click.pass_context
@handle_errors
def version_files(ctx: click.Context, ref: str, as_json: bool) -> None:
    """List the files (the manifest) of the version REF names."""
    # Listing files is no pull: a revoked version's are shown too.
    manifest = client(ctx).get_manifest(ref, allow_revoked=True)
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


def _marker(status: str | None) -> str:
    return f" ({status.upper()})" if status and status != "active" else ""


def _status_line(v: Any) -> str:
    if v.status == "active" and v.status_at is None:
        return "active"
    line = f"{v.status} since {when(v.status_at)} by {v.status_by}"
    if v.status_reason:
        line += f": {v.status_reason}"
    if v.replacement is not None:
        line += f" (replacement: {v.model}:{v.replacement})"
    return line


@version.group("card")
def card() -> None:
    """A version's own card (given at push: --card, or push_model(card=…))."""


@card.command("show")
@click.argument("ref")
@json_option
@click.pass_context
@handle_errors
def show_card(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Print the card of the version REF names (and on stderr its completeness)."""
    md = client(ctx)
    v = md.get_version(ref, include_deleted=True)
    found = md.get_version_card(f"{v.model}:{v.number}")
    if as_json:
        emit_json(found)
        return
    if found.card is None:
        from modeldepot.errors import CardNotFound

        raise CardNotFound(
            f"{v.model}:{v.number} has no card of its own (give one at push with --card); "
            f"the model's card: modeldepot models card show {v.model}"
        )
    click.echo(found.card, nl=not found.card.endswith("\n"))
    missing = ", ".join(found.missing) or "none"
    click.echo(f"{found.completeness:.0%} complete; missing: {missing}", err=True)


for _command in lineage_cli.COMMANDS:
    version.add_command(_command)
for _command in lifecycle_cli.COMMANDS:
    version.add_command(_command)
versions.sibling, version.sibling = version, versions
