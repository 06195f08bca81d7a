"""``modeldepot user|service-account|group|grant``: accounts and who may do what.

Users, service accounts and groups are managed by registry admins; ``grant`` also by
maintainers, for roles below their own under the prefixes they maintain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from modeldepot.cli.auth import read_secret_line
from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    when,
)

if TYPE_CHECKING:
    from modeldepot.schemas.identity import GrantRead, GroupRead, PrincipalRead

F = TypeVar("F", bound=Callable[..., Any])
ROLES = click.Choice(["reader", "contributor", "maintainer", "admin"])


def _password(password: bool, password_stdin: bool) -> str | None:
    if password_stdin:
        return read_secret_line("password")
    if password:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return None


password_options = [
    click.option("--password", "password", is_flag=True, help="Prompt for a password."),
    click.option("--password-stdin", is_flag=True, help="Read the password from stdin."),
]


def with_password(func: F) -> F:
    for option in reversed(password_options):
        func = option(func)
    return func


def _show_principal(p: PrincipalRead) -> None:
    emit_fields(
        [
            ("name", p.name),
            ("kind", p.kind),
            ("display name", p.display_name),
            ("password", "set" if p.has_password else "none"),
            ("state", f"disabled since {when(p.disabled_at)}" if p.disabled else "active"),
            ("groups", p.groups),
            ("grants", [f"{g.role} on {g.prefix}" for g in p.grants]),
            ("created", f"{when(p.created_at)} by {p.created_by}"),
        ]
    )


# Users -------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Users and service accounts (admins)."""


@user.command("create")
@click.argument("name")
@click.option("--service", is_flag=True, help="A service account (tokens only, no password).")
@click.option("--display-name", default="", help="A human-readable name.")
@with_password
@json_option
@click.pass_context
@handle_errors
def create_user(
    ctx: click.Context,
    name: str,
    service: bool,
    display_name: str,
    password: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Create a user (or, with --service, a service account)."""
    made = client(ctx).create_user(
        name,
        display_name=display_name,
        password=_password(password, password_stdin),
        service=service,
    )
    if as_json:
        emit_json(made)
        return
    click.echo(f"created {'service account' if service else 'user'} {made.name}")


@user.command("list")
@click.option("--kind", type=click.Choice(["user", "service"]), help="Only this kind.")
@json_option
@click.pass_context
@handle_errors
def list_users(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """Every user and service account."""
    found = client(ctx).list_users(kind=kind)
    if as_json:
        emit_json(found)
        return
    emit_table(
        ("NAME", "KIND", "DISPLAY NAME", "STATE", "GRANTS", "CREATED"),
        (
            (
                p.name,
                p.kind,
                p.display_name,
                "disabled" if p.disabled else "active",
                ", ".join(f"{g.role} on {g.prefix}" for g in p.grants) or "-",
                when(p.created_at),
            )
            for p in found
        ),
    )


@user.command("show")
@click.argument("name")
@json_option
@click.pass_context
@handle_errors
def show_user(ctx: click.Context, name: str, as_json: bool) -> None:
    """An account: kind, state, groups, grants."""
    found = client(ctx).get_user(name)
    if as_json:
        emit_json(found)
    else:
        _show_principal(found)


@user.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
@handle_errors
def set_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a user's password (yours, or as an admin anyone's)."""
    secret = _password(True, password_stdin)
    assert secret is not None
    client(ctx).set_password(name, secret)
    click.echo(f"password of {name} set")


@user.command("disable")
@click.argument("name")
@click.pass_context
@handle_errors
def disable_user(ctx: click.Context, name: str) -> None:
    """Disable an account: its tokens and password stop working."""
    client(ctx).disable_user(name)
    click.echo(f"disabled {name}")


@user.command("enable")
@click.argument("name")
@click.pass_context
@handle_errors
def enable_user(ctx: click.Context, name: str) -> None:
    client(ctx).enable_user(name)
    click.echo(f"enabled {name}")


@user.command("delete")
@click.argument("name")
@click.pass_context
@handle_errors
def delete_user(ctx: click.Context, name: str) -> None:
    """Delete an account with its tokens, grants and memberships."""
    client(ctx).delete_user(name)
    click.echo(f"deleted {name}")


@click.group("service-account")
def service_account() -> None:
    """Service accounts: accounts for machines (CI, deployments), tokens only."""


@service_account.command("create")
@click.argument("name")
@click.option("--display-name", default="", help="A human-readable name.")
@click.pass_context
@handle_errors
def create_service_account(ctx: click.Context, name: str, display_name: str) -> None:
    """Create a service account; then `grant add` it a role and `token create --owner` it."""
    client(ctx).create_service_account(name, display_name=display_name)
    click.echo(f"created service account {name}")


# Groups ------------------------------------------------------------------------------


@click.group()
def group() -> None:
    """Groups of users and service accounts, granted roles together (admins)."""


def _echo_group(g: GroupRead) -> None:
    click.echo(f"{g.name}: {', '.join(g.members) or 'no members'}")


@group.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the group is for.")
@click.pass_context
@handle_errors
def create_group(ctx: click.Context, name: str, description: str) -> None:
    client(ctx).create_group(name, description=description)
    click.echo(f"created group {name}")


@group.command("list")
@json_option
@click.pass_context
@handle_errors
def list_groups(ctx: click.Context, as_json: bool) -> None:
    found = client(ctx).list_groups()
    if as_json:
        emit_json(found)
        return
    emit_table(
        ("NAME", "MEMBERS", "GRANTS", "DESCRIPTION"),
        (
            (
                g.name,
                ", ".join(g.members) or "-",
                ", ".join(f"{r.role} on {r.prefix}" for r in g.grants) or "-",
                g.description,
            )
            for g in found
        ),
    )


@group.command("delete")
@click.argument("name")
@click.pass_context
@handle_errors
def delete_group(ctx: click.Context, name: str) -> None:
    """Delete a group; its members lose the roles granted to it."""
    client(ctx).delete_group(name)
    click.echo(f"deleted group {name}")


@group.command("add")
@click.argument("name")
@click.argument("members", nargs=-1, required=True, metavar="MEMBER...")
@click.pass_context
@handle_errors
def add_members(ctx: click.Context, name: str, members: tuple[str, ...]) -> None:
    """Add users or service accounts to a group."""
    md = client(ctx)
    for member in members:
        found = md.add_group_member(name, member)
    _echo_group(found)


@group.command("remove")
@click.argument("name")
@click.argument("members", nargs=-1, required=True, metavar="MEMBER...")
@click.pass_context
@handle_errors
def remove_members(ctx: click.Context, name: str, members: tuple[str, ...]) -> None:
    md = client(ctx)
    for member in members:
        found = md.remove_group_member(name, member)
    _echo_group(found)


# Grants ------------------------------------------------------------------------------


@click.group()
def grant() -> None:
    """Roles on namespace prefixes: reader < contributor < maintainer < admin."""


def _grant_line(g: GrantRead) -> str:
    return f"{g.subject} ({g.subject_kind}): {g.role} on {g.prefix}"


@grant.command("add")
@click.argument("subject", metavar="SUBJECT")
@click.argument("role", type=ROLES)
@click.argument("prefix", default="/")
@click.pass_context
@handle_errors
def add_grant(ctx: click.Context, subject: str, role: str, prefix: str) -> None:
    """Give a user, service account or group ROLE on PREFIX (default: the whole
    registry), e.g. `modeldepot grant add alice contributor ads/`."""
    made = client(ctx).grant(subject, role, prefix)
    click.echo(f"granted {_grant_line(made)}")


@grant.command("list")
@click.option("--subject", help="Only this user, service account or group.")
@click.option("--prefix", help="Only on exactly this prefix.")
@json_option
@click.pass_context
@handle_errors
def list_grants(ctx: click.Context, subject: str | None, prefix: str | None, as_json: bool) -> None:
    """The grants you may see (admins: all; maintainers: under their prefixes)."""
    found = client(ctx).list_grants(subject=subject, prefix=prefix)
    if as_json:
        emit_json(found)
        return
    emit_table(
        ("ID", "SUBJECT", "KIND", "ROLE", "PREFIX", "GRANTED"),
        (
            (
                g.id,
                g.subject,
                g.subject_kind,
                g.role,
                g.prefix,
                f"{when(g.created_at)} by {g.created_by}",
            )
            for g in found
        ),
    )


@grant.command("remove")
@click.argument("subject", metavar="SUBJECT")
@click.argument("prefix", default="/")
@click.pass_context
@handle_errors
def remove_grant(ctx: click.Context, subject: str, prefix: str) -> None:
    """Remove SUBJECT's role on PREFIX."""
    removed = client(ctx).revoke_grant(subject, prefix)
    click.echo(f"removed {_grant_line(removed)}")
