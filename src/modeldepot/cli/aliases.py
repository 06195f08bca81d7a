"""``modeldepot alias set|rm|list|history|protect|unprotect|protections``."""

from __future__ import annotations

import click

from modeldepot.cli.common import client, emit_json, emit_table, handle_errors, json_option, when


@click.group()
def alias() -> None:
    """Aliases: named pointers such as production or champion."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("number", type=click.IntRange(1), metavar="VERSION")
@click.option(
    "--expect",
    type=click.IntRange(0),
    help="Only move if the alias points at this version now (0: unset).",
)
@json_option
@click.pass_context
@handle_errors
def set_alias(
    ctx: click.Context, name: str, alias_name: str, number: int, expect: int | None, as_json: bool
) -> None:
    """Point ALIAS of model NAME at VERSION (creating or moving it)."""
    result = client(ctx).set_alias(name, alias_name, number, expected_version=expect)
    emit_json(result) if as_json else click.echo(f"{name}@{result.name} -> {result.version}")


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.pass_context
@handle_errors
def remove_alias(ctx: click.Context, name: str, alias_name: str) -> None:
    """Remove ALIAS from model NAME."""
    client(ctx).delete_alias(name, alias_name)
    click.echo(f"removed {name}@{alias_name}")


@alias.command("list")
@click.argument("name")
@json_option
@click.pass_context
@handle_errors
def list_aliases(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the aliases of model NAME."""
    items = client(ctx).list_aliases(name)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["ALIAS", "VERSION", "STATUS", "SINCE", "BY", "PROTECTED"],
        [
            (
                a.name,
                a.version,
                a.version_status.upper(),
                when(a.updated_at),
                a.updated_by,
                "yes" if a.protected else "-",
            )
            for a in items
        ],
    )
    for a in items:
        if a.version_status == "revoked":
            click.echo(
                f"WARNING: {name}@{a.name} points at revoked version {a.version} "
                f"(see: modeldepot version show {name}:{a.version})",
                err=True,
            )


@alias.command("history")
@click.argument("target", metavar="NAME[@ALIAS]")
@click.option("--limit", type=click.IntRange(1), help="At most this many changes.")
@json_option
@click.pass_context
@handle_errors
def alias_history(ctx: click.Context, target: str, limit: int | None, as_json: bool) -> None:
    """Every change of one alias (NAME@ALIAS) or of all aliases of NAME, newest first."""
    name, _, alias_name = target.partition("@")
    items = client(ctx).alias_history(name, alias_name or None, limit=limit)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["WHEN", "ALIAS", "FROM", "TO", "BY", "REQUEST"],
        [
            (
                when(e.at),
                e.alias,
                e.from_version or "-",
                e.to_version or "-",
                e.actor,
                f"#{e.request}" if e.request else "-",
            )
            for e in items
        ],
    )


def _shown(kind: str, scope: str) -> str:
    """A rule's scope as shown: the model, or the prefix with its slash (``/``: all)."""
    if kind == "model":
        return scope
    scope = scope.strip("/")
    return scope + "/" if scope else "/"


def _rule(first: str, second: str | None, prefix: str | None) -> tuple[dict[str, str], str]:
    """The SDK's arguments for ``MODEL ALIAS`` or ``--prefix PREFIX ALIAS``, and how the
    rule is shown."""
    if prefix is not None:
        if second is not None:
            raise click.UsageError("with --prefix, give only ALIAS")
        shown = f"{first} of every model under {_shown('prefix', prefix)}"
        return {"prefix": prefix, "alias": first}, shown
    if second is None:
        raise click.UsageError("give MODEL ALIAS, or --prefix PREFIX ALIAS")
    return {"model": first, "alias": second}, f"{first}@{second}"


PREFIX_HELP = "Every model under this prefix (`/`: every model)."


@alias.command("protect")
@click.argument("first", metavar="[MODEL] ALIAS")
@click.argument("second", required=False, metavar="")
@click.option("--prefix", help=PREFIX_HELP)
@click.pass_context
@handle_errors
def protect(ctx: click.Context, first: str, second: str | None, prefix: str | None) -> None:
    """Protect ALIAS of MODEL (its maintainers may), or of every model under --prefix
    (its admins may): it then moves only by applying a promotion request."""
    arguments, shown = _rule(first, second, prefix)
    client(ctx).protect(**arguments)
    click.echo(f"protected {shown}")


@alias.command("unprotect")
@click.argument("first", metavar="[MODEL] ALIAS")
@click.argument("second", required=False, metavar="")
@click.option("--prefix", help=PREFIX_HELP)
@click.pass_context
@handle_errors
def unprotect(ctx: click.Context, first: str, second: str | None, prefix: str | None) -> None:
    """Remove the rule protecting ALIAS of MODEL or under --prefix (an admin's act); the
    alias moves directly again unless another rule covers it."""
    arguments, shown = _rule(first, second, prefix)
    client(ctx).unprotect(**arguments)
    click.echo(f"unprotected {shown}")


@alias.command("protections")
@click.argument("name", required=False, metavar="[MODEL]")
@json_option
@click.pass_context
@handle_errors
def list_protections(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Every protection rule, or those covering MODEL."""
    items = client(ctx).protections(name)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["ALIAS", "KIND", "SCOPE", "SINCE", "BY"],
        [
            (r.alias, r.kind, _shown(r.kind, r.scope), when(r.created_at), r.created_by)
            for r in items
        ],
    )
