"""``modeldepot login|logout|whoami`` and ``modeldepot token create|list|revoke``.

``login`` stores a token for the server's URL in ``credentials.json`` (mode 0600), which
the SDK and CLI then send; a token is printed only by ``token create``, once.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from modeldepot.cli.common import client, emit_json, emit_table, handle_errors, json_option, when

if TYPE_CHECKING:
    from modeldepot.client.client import Client
    from modeldepot.schemas.identity import TokenRead

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str) -> datetime:
    """``30m``, ``12h``, ``1d``, ``2w`` from now, or an ISO 8601 instant."""
    from modeldepot.instant import parse_instant

    match = _DURATION.fullmatch(text.strip().lower())
    if match:
        amount = int(match.group(1))
        return datetime.now(UTC) + timedelta(**{_UNIT[match.group(2)]: amount})
    return parse_instant(text)


def read_secret_line(what: str) -> str:
    """One line of stdin (a token or password piped in), without its newline."""
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise click.UsageError(f"no {what} on standard input")
    return value


def server_url(ctx: click.Context) -> str:
    return client(ctx).url


@click.command()
@click.option("--username", "-u", help="User name (prompted for if not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (not prompted).")
@click.option(
    "--token",
    "token",
    metavar="TOKEN|-",
    help="Store this API token instead of logging in with a password ('-': read it from stdin).",
)
@click.option(
    "--name", "token_name", default="cli", show_default=True, help="Name of the new token."
)
@click.option("--expires", help="Expiry of the new token: 12h, 30d, or an ISO 8601 instant.")
@click.pass_context
@handle_errors
def login(
    ctx: click.Context,
    username: str | None,
    password_stdin: bool,
    token: str | None,
    token_name: str,
    expires: str | None,
) -> None:
    """Log in to the server and store a token for it (file readable by you only).

    With a user name and password, the server issues a new token; with --token, that
    token is checked and stored. Afterwards every command sends it.
    """
    from modeldepot.client.client import Client
    from modeldepot.client.credentials import store_token

    url = server_url(ctx)
    if token == "-":
        token = read_secret_line("token")
    if token is None:
        username = username or click.prompt("Username")
        if password_stdin:
            password = read_secret_line("password")
        else:
            password = click.prompt("Password", hide_input=True)
        expires_at = parse_expiry(expires) if expires else None
        token = (
            client(ctx)
            .login(username, password, token_name=token_name, expires_at=expires_at)
            .token
        )
    with Client(url, token=token) as md:
        me = md.whoami()
    path = store_token(url, token)
    click.echo(f"logged in to {url} as {me.name}; token stored in {path}")


@click.command()
@click.option("--keep", is_flag=True, help="Forget the token here without revoking it.")
@click.pass_context
@handle_errors
def logout(ctx: click.Context, keep: bool) -> None:
    """Revoke the stored token of this server and forget it."""
    from modeldepot.client.client import Client
    from modeldepot.client.credentials import store_token, stored_token

    url = server_url(ctx)
    token = stored_token(url)
    if token is None:
        click.echo(f"not logged in to {url}")
        return
    if not keep:
        from modeldepot.errors import Unauthenticated

        with Client(url, token=token) as md:
            try:
                mine = md.whoami().token
                if mine is not None:
                    md.revoke_token(mine.id)
            except Unauthenticated:
                pass  # already revoked or expired: nothing left to revoke
    store_token(url, None)
    click.echo(f"logged out of {url}")


@click.command()
@json_option
@click.pass_context
@handle_errors
def whoami(ctx: click.Context, as_json: bool) -> None:
    """Who the CLI acts as on this server: name, roles, groups, token."""
    me = client(ctx).whoami()
    if as_json:
        emit_json(me)
        return
    click.echo(f"{me.name} ({me.kind})" + (f" {me.display_name}" if me.display_name else ""))
    for line in me.grants or ["no roles"]:
        click.echo(f"  {line}")
    if me.groups:
        click.echo(f"  groups: {', '.join(me.groups)}")
    if me.token is not None:
        click.echo(f"  token: {me.token.id} ({me.token.name}){_token_limits(me.token)}")


def _token_limits(token: TokenRead) -> str:
    parts = []
    if token.scope is not None:
        parts.append(f"{token.scope.role} on {token.scope.prefix}")
    if token.expires_at is not None:
        parts.append(f"expires {when(token.expires_at)}")
    return f", {', '.join(parts)}" if parts else ""


@click.group()
def token() -> None:
    """API tokens: create (printed once), list, revoke."""


@token.command("create")
@click.argument("name")
@click.option("--prefix", help="Only on models under this namespace prefix (e.g. ads/).")
@click.option(
    "--role",
    type=click.Choice(["reader", "contributor", "maintainer", "admin"]),
    help="At most this role (at or below yours).",
)
@click.option("--expires", help="Expiry: 12h, 1d, 2w, or an ISO 8601 instant.")
@click.option("--owner", help="Admins: a token of this account (a service account).")
@json_option
@click.pass_context
@handle_errors
def create_token(
    ctx: click.Context,
    name: str,
    prefix: str | None,
    role: str | None,
    expires: str | None,
    owner: str | None,
    as_json: bool,
) -> None:
    """Create a token and print it: this is the only time it is shown."""
    expires_at = parse_expiry(expires) if expires else None
    made = client(ctx).create_token(
        name, prefix=prefix, role=role, expires_at=expires_at, owner=owner
    )
    if as_json:
        emit_json(made)
        return
    click.echo(made.token)
    click.echo(
        f"created token {made.id} ({made.name}) of {made.owner}{_token_limits(made)}; "
        "it is shown only this once",
        err=True,
    )


@token.command("list")
@click.option("--all", "everyone", is_flag=True, help="Admins: every account's tokens.")
@click.option("--owner", help="Admins: this account's tokens.")
@json_option
@click.pass_context
@handle_errors
def list_tokens(ctx: click.Context, everyone: bool, owner: str | None, as_json: bool) -> None:
    """Your tokens (never their secrets), revoked and expired ones included."""
    found = client(ctx).list_tokens(owner=owner, everyone=everyone)
    if as_json:
        emit_json(found)
        return
    emit_table(
        ("ID", "NAME", "OWNER", "SCOPE", "EXPIRES", "LAST USED", "FROM", "STATE"),
        (
            (
                t.id,
                t.name,
                t.owner,
                f"{t.scope.role} on {t.scope.prefix}" if t.scope else "-",
                when(t.expires_at) if t.expires_at else "never",
                when(t.last_used_at),
                t.last_used_from or "-",
                _state(t),
            )
            for t in found
        ),
    )


@token.command("revoke")
@click.argument("token_ids", nargs=-1, required=True, metavar="ID...")
@click.pass_context
@handle_errors
def revoke_token(ctx: click.Context, token_ids: tuple[str, ...]) -> None:
    """Revoke tokens by id (see `modeldepot token list`)."""
    md: Client = client(ctx)
    for token_id in token_ids:
        md.revoke_token(token_id)
        click.echo(f"revoked token {token_id}")


@token.command("generate")
@handle_errors
def generate_token() -> None:
    """Print a new random token, talking to no server: for MODELDEPOT_ADMIN_TOKEN, the
    first admin's token a deployment provisions from its secret store."""
    from modeldepot.security.tokens import generate

    click.echo(generate().text)


def _state(token: TokenRead) -> str:
    if token.revoked:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        return "expired"
    return "active"
