"""``modeldepot tag set|rm``: tags on a model (NAME) or on a version (NAME:7, NAME@alias)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modeldepot.cli.common import client, handle_errors, parse_pairs

if TYPE_CHECKING:
    from modeldepot.refs import Ref


@click.group()
def tag() -> None:
    """Key=value tags. A bare NAME tags the model; a version reference tags that version."""


@tag.command("set")
@click.argument("target", metavar="NAME|REF")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.pass_context
@handle_errors
def set_tags(ctx: click.Context, target: str, pairs: tuple[str, ...]) -> None:
    """Set tags on a model or a version."""
    values = parse_pairs(pairs, "KEY=VALUE")
    md = client(ctx)
    ref, is_model = _target(target)
    if is_model:
        md.update_model(ref.name, tags=values)
        click.echo(f"tagged model {ref.name}: {', '.join(values)}")
        return
    for key, value in values.items():
        v = md.set_version_tag(ref, key, value)
    click.echo(f"tagged {v.model}:{v.number}: {', '.join(values)}")


@tag.command("rm")
@click.argument("target", metavar="NAME|REF")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@click.pass_context
@handle_errors
def remove_tags(ctx: click.Context, target: str, keys: tuple[str, ...]) -> None:
    """Remove tags from a model or a version."""
    md = client(ctx)
    ref, is_model = _target(target)
    if is_model:
        for key in keys:
            md.delete_model_tag(ref.name, key)
        click.echo(f"untagged model {ref.name}: {', '.join(keys)}")
        return
    for key in keys:
        v = md.delete_version_tag(ref, key)
    click.echo(f"untagged {v.model}:{v.number}: {', '.join(keys)}")


def _target(text: str) -> tuple[Ref, bool]:
    """The parsed reference, and whether it names the model itself (a bare NAME)."""
    from modeldepot.refs import RefKind, parse_ref

    ref = parse_ref(text)
    return ref, ref.kind is RefKind.LATEST and "@" not in text
