"""``modeldepot policy apply|list|show|history|diff|remove`` and
``modeldepot freeze create|list|lift``: governance as code (docs/policies.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    when,
)


def _prefix(prefix: str) -> str:
    return prefix + "/" if prefix else "/"


def _risk(levels: list[str]) -> str:
    return ",".join(levels) or "any"


@click.group()
def policy() -> None:
    """Policies: what a version needs before a protected alias may point at it."""


@policy.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@click.pass_context
@handle_errors
def apply(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Apply the policy in FILE (YAML): a new version when it changed."""
    result, changed = client(ctx).apply_policy_changed(file)
    if as_json:
        emit_json(result)
        return
    state = "in force" if changed else "unchanged"
    click.echo(
        f"{result.name}@{result.version} {state} ({result.alias} of {_prefix(result.prefix)})"
    )


@policy.command("list")
@json_option
@click.pass_context
@handle_errors
def list_policies(ctx: click.Context, as_json: bool) -> None:
    """List the policies in force."""
    items = client(ctx).list_policies()
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["NAME", "VERSION", "ALIAS", "PREFIX", "RISK", "UPDATED", "BY"],
        [
            (
                p.name,
                p.version,
                p.alias,
                _prefix(p.prefix),
                _risk(p.risk_levels),
                when(p.created_at),
                p.created_by,
            )
            for p in items
        ],
    )


@policy.command("show")
@click.argument("name")
@click.option("--version", "number", type=click.IntRange(1), help="This version, not the current.")
@json_option
@click.pass_context
@handle_errors
def show(ctx: click.Context, name: str, number: int | None, as_json: bool) -> None:
    """Show policy NAME: its selection, then its YAML as applied."""
    result = client(ctx).get_policy(name, number)
    if as_json:
        emit_json(result)
        return
    emit_fields(
        [
            ("name", f"{result.name}@{result.version}"),
            ("alias", result.alias),
            ("prefix", _prefix(result.prefix)),
            ("risk", _risk(result.risk_levels)),
            ("removed", "yes" if result.removed else "no"),
            ("applied", f"{when(result.created_at)} by {result.created_by}"),
        ]
    )
    if result.source:
        click.echo()
        click.echo(result.source.rstrip("\n"))


@policy.command("history")
@click.argument("name")
@json_option
@click.pass_context
@handle_errors
def history(ctx: click.Context, name: str, as_json: bool) -> None:
    """Every version of policy NAME, oldest first."""
    items = client(ctx).policy_history(name)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["VERSION", "AT", "BY", "CHANGE"],
        [
            (p.version, when(p.created_at), p.created_by, "removed" if p.removed else "applied")
            for p in items
        ],
    )


@policy.command("diff")
@click.argument("name")
@click.argument("from_version", type=click.IntRange(1))
@click.argument("to_version", type=click.IntRange(1))
@json_option
@click.pass_context
@handle_errors
def diff(ctx: click.Context, name: str, from_version: int, to_version: int, as_json: bool) -> None:
    """What changed in policy NAME from version FROM to version TO (unified diff)."""
    text = client(ctx).diff_policy(name, from_version, to_version)
    if as_json:
        emit_json(
            {"name": name, "from_version": from_version, "to_version": to_version, "diff": text}
        )
        return
    click.echo(
        text.rstrip("\n") if text else f"{name}@{from_version} and @{to_version} are the same"
    )


@policy.command("remove")
@click.argument("name")
@json_option
@click.pass_context
@handle_errors
def remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Remove policy NAME (its history stays)."""
    result = client(ctx).remove_policy(name)
    if as_json:
        emit_json(result)
        return
    click.echo(f"removed {name} (version {result.version})")


@click.group()
def freeze() -> None:
    """Change freezes: no promotion is applied under a frozen prefix."""


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _freeze_rows(items: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            f.id,
            _prefix(f.prefix),
            "yes" if f.active else "",
            when(f.starts_at),
            when(f.ends_at)
            if f.ends_at
            else ("lifted " + when(f.lifted_at) if f.lifted_at else "-"),
            f.created_by,
            f.reason,
        )
        for f in items
    ]


@freeze.command("create")
@click.argument("prefix")
@click.option("--reason", required=True, help="Why (shown to whoever is held up).")
@click.option("--from", "starts", metavar="TIME", help="Start (ISO 8601, UTC if no zone); now.")
@click.option("--until", "ends", metavar="TIME", help="End (ISO 8601); until lifted if left out.")
@json_option
@click.pass_context
@handle_errors
def create(
    ctx: click.Context,
    prefix: str,
    reason: str,
    starts: str | None,
    ends: str | None,
    as_json: bool,
) -> None:
    """Freeze the models under PREFIX ("/" is every model)."""
    result = client(ctx).create_freeze(
        prefix, reason, starts_at=_instant(starts), ends_at=_instant(ends)
    )
    if as_json:
        emit_json(result)
        return
    click.echo(f"freeze {result.id}: {_prefix(result.prefix)} frozen ({result.reason})")


@freeze.command("list")
@click.option("--all", "everyone", is_flag=True, help="Lifted and ended freezes too.")
@json_option
@click.pass_context
@handle_errors
def list_freezes(ctx: click.Context, everyone: bool, as_json: bool) -> None:
    """List freezes in force or scheduled."""
    items = client(ctx).list_freezes(everyone=everyone)
    if as_json:
        emit_json(items)
        return
    emit_table(["ID", "PREFIX", "ACTIVE", "FROM", "UNTIL", "BY", "REASON"], _freeze_rows(items))


@freeze.command("lift")
@click.argument("freeze_id", metavar="ID", type=click.IntRange(1))
@json_option
@click.pass_context
@handle_errors
def lift(ctx: click.Context, freeze_id: int, as_json: bool) -> None:
    """Lift freeze ID now."""
    result = client(ctx).lift_freeze(freeze_id)
    if as_json:
        emit_json(result)
        return
    click.echo(f"freeze {result.id} on {_prefix(result.prefix)} lifted")
