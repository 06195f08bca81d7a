"""``modeldepot push`` and ``modeldepot pull``."""

from __future__ import annotations

from pathlib import Path

import click

from modeldepot.cli.common import (
    client,
    emit_json,
    handle_errors,
    human_size,
    json_option,
    parse_pairs,
)


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.argument("name")
@click.option("-d", "--description", default="", help="What this version is.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag (repeatable).")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Parameter; numbers and true/false are typed.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="KEY=VALUE",
    help="Metric, a finite number (repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out matching relative paths (repeatable).",
)
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="ALIAS",
    help="Point this alias at the new version (repeatable).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@json_option
@click.pass_context
@handle_errors
def push(
    ctx: click.Context,
    path: Path,
    name: str,
    description: str,
    tags: tuple[str, ...],
    params: tuple[str, ...],
    metrics: tuple[str, ...],
    exclude: tuple[str, ...],
    aliases: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> None:
    """Publish the file or directory PATH as the next version of model NAME."""
    from modeldepot.cli.progress import RichProgress
    from modeldepot.metadata import parse_scalar

    metric_values: dict[str, float] = {}
    for key, text in parse_pairs(metrics, "--metric").items():
        try:
            metric_values[key] = float(text)
        except ValueError:
            raise click.BadParameter(
                f"{key}={text!r} is not a number", param_hint="--metric"
            ) from None
    param_values = {k: parse_scalar(v) for k, v in parse_pairs(params, "--param").items()}
    md = client(ctx)
    with RichProgress(enabled=None if not quiet else False) as progress:
        version = md.push(
            path,
            name,
            description=description,
            tags=parse_pairs(tags, "--tag"),
            params=param_values,
            metrics=metric_values,
            exclude=exclude,
            progress=progress,
        )
    for alias in aliases:
        md.set_alias(version.model, alias, version.number)
    if aliases:
        version = md.get_version(f"{version.model}:{version.number}")
    if as_json:
        emit_json(version)
        return
    click.echo(
        f"pushed {version.model}:{version.number} {version.digest} "
        f"({version.file_count} files, {human_size(version.total_size)})"
    )


@click.command()
@click.argument("ref")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Target directory (default: ./<model's last name segment>).",
)
@click.option("--no-cache", is_flag=True, help="Do not use or fill the local blob cache.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@json_option
@click.pass_context
@handle_errors
def pull(
    ctx: click.Context, ref: str, output: Path | None, no_cache: bool, quiet: bool, as_json: bool
) -> None:
    """Download the version REF names (name, name:7, name@alias, name@sha256:…) into a directory."""
    from modeldepot.cli.progress import RichProgress
    from modeldepot.refs import parse_ref

    parsed = parse_ref(ref)
    target = output or Path(parsed.name.rsplit("/", 1)[-1])
    with RichProgress(enabled=None if not quiet else False) as progress:
        version = client(ctx).pull(parsed, target, use_cache=not no_cache, progress=progress)
    if as_json:
        emit_json(version)
        return
    click.echo(
        f"pulled {version.model}:{version.number} {version.digest} into {target} "
        f"({version.file_count} files, {human_size(version.total_size)})"
    )
