"""``modeldepot``: the root command. Subcommands are imported only when run."""

from __future__ import annotations

import importlib
import sys

import click

from modeldepot import __version__

# name -> (module, attribute, one-line help shown by --help without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("modeldepot.cli.server", "serve", "Run the registry server."),
    "push": ("modeldepot.cli.transfer", "push", "Publish a file or directory as a new version."),
    "pull": ("modeldepot.cli.transfer", "pull", "Download a version into a directory."),
    "models": ("modeldepot.cli.models", "models", "List, show, create, delete models."),
    "versions": ("modeldepot.cli.versions", "versions", "List the versions of a model."),
    "version": (
        "modeldepot.cli.versions",
        "version",
        "Show a version, its files, lineage, environment; diff, relate, delete.",
    ),
    "alias": ("modeldepot.cli.aliases", "alias", "Set, move, remove aliases; their history."),
    "tag": ("modeldepot.cli.tags", "tag", "Set and remove tags on models and versions."),
    "search": ("modeldepot.cli.search", "search", "Find models or versions with a query."),
    "dataset": (
        "modeldepot.cli.datasets",
        "dataset",
        "Datasets and the versions and aliases that used them.",
    ),
    "inventory": (
        "modeldepot.cli.inventory",
        "inventory",
        "Every model: owner, risk, aliases, data, pulls.",
    ),
    "verify": ("modeldepot.cli.verify", "verify", "Check a model reproduces its recorded output."),
    "login": ("modeldepot.cli.auth", "login", "Log in and store a token for this server."),
    "logout": ("modeldepot.cli.auth", "logout", "Revoke and forget the stored token."),
    "whoami": ("modeldepot.cli.auth", "whoami", "Who you are on this server, and your roles."),
    "token": ("modeldepot.cli.auth", "token", "Create, list, revoke API tokens."),
    "user": ("modeldepot.cli.admin", "user", "Users and service accounts (admins)."),
    "service-account": (
        "modeldepot.cli.admin",
        "service_account",
        "Create service accounts for CI and deployments.",
    ),
    "group": ("modeldepot.cli.admin", "group", "Groups of accounts, granted roles together."),
    "grant": ("modeldepot.cli.admin", "grant", "Grant and remove roles on namespace prefixes."),
    "gc": ("modeldepot.cli.server", "gc", "Remove unreferenced blobs and abandoned uploads."),
    "audit": ("modeldepot.cli.audit", "audit", "List, export and verify the audit log."),
    "watch": ("modeldepot.cli.audit", "watch", "Print changes as they happen."),
    "db": ("modeldepot.cli.server", "db", "Upgrade or inspect the database schema."),
    "promote": (
        "modeldepot.cli.requests",
        "promote",
        "Open a promotion request to move a protected alias.",
    ),
    "rollback": (
        "modeldepot.cli.requests",
        "rollback",
        "Open a request to move an alias back to its previous version.",
    ),
    "requests": (
        "modeldepot.cli.requests",
        "requests",
        "Promotion requests: list, show, approve, reject, apply.",
    ),
    "check": ("modeldepot.cli.requests", "check", "Post and list external checks on versions."),
    "metrics": ("modeldepot.cli.requests", "metrics", "Add metrics to a version after its push."),
    "policy": ("modeldepot.cli.policies", "policy", "Apply, show, diff, remove policies."),
    "freeze": ("modeldepot.cli.policies", "freeze", "Declare, list, lift change freezes."),
}
ALIASES = {
    "request": "requests",
    "checks": "check",
    "model": "models",
    "datasets": "dataset",
    "users": "user",
    "tokens": "token",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd_name = ALIASES.get(cmd_name, cmd_name)
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, _, help_text) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="MODELDEPOT_URL",
    help="Server URL [MODELDEPOT_URL, default http://127.0.0.1:8470].",
)
@click.version_option(__version__, prog_name="modeldepot")
def cli(url: str | None) -> None:
    """modeldepot: a self-hosted ML model registry.

    References: NAME (latest), NAME:7, NAME@alias, NAME@sha256:<hex>,
    models:/NAME/7, models:/NAME@alias.
    """


def main() -> None:
    """Run the CLI; every failure, usage errors included, is one line on stderr."""
    try:
        cli.main(prog_name="modeldepot", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"modeldepot: error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"modeldepot: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("modeldepot: interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        # Outside a command's own handling (closing the client, writing the output).
        from modeldepot.cli.common import fail

        fail(exc)
