"""``modeldepot version deprecate|revoke|reinstate`` and ``modeldepot dataset revoke``.

The version commands are attached to the ``version`` group (``cli/versions.py``), the
dataset one to ``dataset`` (``cli/datasets.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modeldepot.cli.common import client, emit_json, emit_table, handle_errors, json_option

if TYPE_CHECKING:
    from modeldepot.schemas.lifecycle import RevocationPlan

reason_option = click.option(
    "--reason", required=True, help="Why (required; kept in the version and the audit log)."
)


def banner(version: Any) -> str | None:
    """``REVOKED: ads/m:3 (leaked data); use ads/m:4 instead``, or None if active.
    ``version`` is a VersionRead or its JSON."""
    get = version.get if isinstance(version, dict) else lambda key: getattr(version, key)
    status = get("status") or "active"
    if status == "active":
        return None
    name, number = get("model"), get("number")
    reason = f" ({get('status_reason')})" if get("status_reason") else ""
    replacement = get("replacement")
    instead = f"; use {name}:{replacement} instead" if replacement is not None else ""
    return f"{status.upper()}: {name}:{number}{reason}{instead}"


def _changed(version: Any, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(version)
        return
    instead = f" (use {version.model}:{version.replacement})" if version.replacement else ""
    click.echo(f"{verb} {version.model}:{version.number}{instead}")


@click.command("deprecate")
@click.argument("ref")
@reason_option
@click.option(
    "--replacement",
    type=click.IntRange(1),
    metavar="N",
    help="The version of the same model to use instead.",
)
@json_option
@click.pass_context
@handle_errors
def deprecate(
    ctx: click.Context, ref: str, reason: str, replacement: int | None, as_json: bool
) -> None:
    """Deprecate the version REF names: pulls still work, with a warning."""
    version = client(ctx).deprecate_version(ref, reason, replacement=replacement)
    _changed(version, as_json, "deprecated")


@click.command("revoke")
@click.argument("ref")
@reason_option
@json_option
@click.pass_context
@handle_errors
def revoke(ctx: click.Context, ref: str, reason: str, as_json: bool) -> None:
    """Revoke the version REF names: pulls are refused unless --allow-revoked."""
    _changed(client(ctx).revoke_version(ref, reason), as_json, "revoked")


@click.command("reinstate")
@click.argument("ref")
@reason_option
@json_option
@click.pass_context
@handle_errors
def reinstate(ctx: click.Context, ref: str, reason: str, as_json: bool) -> None:
    """Make a deprecated or revoked version active again."""
    _changed(client(ctx).reinstate_version(ref, reason), as_json, "reinstated")


COMMANDS = [deprecate, revoke, reinstate]


@click.command("revoke")
@click.argument("uri", metavar="DATASET")
@reason_option
@click.option("--digest", help="Only versions that used this snapshot of the dataset.")
@click.option("--yes", is_flag=True, help="Carry the plan out (without it: print it only).")
@json_option
@click.pass_context
@handle_errors
def revoke_dataset(
    ctx: click.Context, uri: str, reason: str, digest: str | None, yes: bool, as_json: bool
) -> None:
    """Revoke every version that used the dataset at DATASET (a URI), and open a
    rollback request for each protected alias pointing at one. Without --yes, print
    what it would do and change nothing."""
    plan = client(ctx).revoke_by_dataset(uri, reason, apply=yes, digest=digest)
    if as_json:
        emit_json(plan)
        return
    print_plan(plan)


def print_plan(plan: RevocationPlan) -> None:
    emit_table(
        ["VERSION", "STATUS", "REVOKE"],
        [
            (
                f"{v.model}:{v.number}{' (deleted)' if v.deleted else ''}",
                v.status,
                "already" if v.status == "revoked" else "yes" if v.permitted else "NOT PERMITTED",
            )
            for v in plan.versions
        ],
    )
    if plan.aliases:
        click.echo()
        emit_table(
            ["PROTECTED ALIAS", "NOW", "ROLL BACK TO", "REQUEST"],
            [
                (
                    f"{a.model}@{a.alias}",
                    a.version,
                    a.target if a.target is not None else "-",
                    f"#{a.request}" if a.request is not None else a.note or "-",
                )
                for a in plan.aliases
            ],
        )
    todo = sum(1 for v in plan.versions if v.status != "revoked")
    rollbacks = sum(1 for a in plan.aliases if a.target is not None)
    if plan.applied:
        opened = sum(1 for a in plan.aliases if a.request is not None)
        click.echo(f"revoked {todo} version(s); opened {opened} rollback request(s)")
    else:
        click.echo(
            f"dry run: would revoke {todo} version(s) and open {rollbacks} rollback "
            "request(s); nothing changed (run again with --yes to do it)"
        )
