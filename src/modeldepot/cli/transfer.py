"""``modeldepot push`` and ``modeldepot pull``."""

from __future__ import annotations

from pathlib import Path

import click

from modeldepot.cli.common import (
    client,
    count,
    emit_json,
    handle_errors,
    human_size,
    json_option,
    parse_pairs,
)


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.argument("name")
@click.option(
    "-d",
    "--description",
    default="",
    help="What this version is (shown by versions list and version show; the model's "
    "own description is set with models create/update -d).",
)
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
    "--follow-symlinks",
    is_flag=True,
    help="Push what symbolic links point at, even outside PATH (refused otherwise).",
)
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="ALIAS",
    help="Point this alias at the new version, in the same commit (repeatable).",
)
@click.option(
    "--params-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Configuration as nested JSON or YAML (merged under the --param values).",
)
@click.option(
    "--dataset",
    "dataset_specs",
    multiple=True,
    metavar="SPEC",
    help="Dataset used: 'uri=s3://b/train,role=train[,digest=sha256:…][,name=…]"
    "[,size=N][,personal]' (repeatable).",
)
@click.option("--derived-from", multiple=True, metavar="REF", help="Version this one comes from.")
@click.option("--depends-on", multiple=True, metavar="REF", help="Version this one uses.")
@click.option(
    "--lineage",
    "lineage_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="More lineage as JSON or YAML (code, environment, datasets, signature, …).",
)
@click.option(
    "--card",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The version's own card, Markdown (modeldepot version card show NAME:N).",
)
@click.option("--entry-point", help="Script or module that produced the model.")
@click.option("--image", "container_image", help="Container image the model was made in.")
@click.option("--no-capture", is_flag=True, help="Do not capture git, environment and format.")
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
    follow_symlinks: bool,
    aliases: tuple[str, ...],
    params_file: Path | None,
    dataset_specs: tuple[str, ...],
    derived_from: tuple[str, ...],
    depends_on: tuple[str, ...],
    lineage_file: Path | None,
    card: Path | None,
    entry_point: str | None,
    container_image: str | None,
    no_capture: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Publish the file or directory PATH as the next version of model NAME.

    The git checkout of the working directory, the Python environment and the model
    format are captured with it unless --no-capture.
    """
    from modeldepot.cli.progress import RichProgress
    from modeldepot.cli.specs import load_document, parse_dataset
    from modeldepot.metadata import parse_scalar

    metric_values: dict[str, float] = {}
    for key, text in parse_pairs(metrics, "--metric").items():
        try:
            metric_values[key] = float(text)
        except ValueError:
            raise click.BadParameter(
                f"{key}={text!r} is not a number", param_hint="--metric"
            ) from None
    param_values: dict[str, object] = dict(load_document(params_file)) if params_file else {}
    param_values.update({k: parse_scalar(v) for k, v in parse_pairs(params, "--param").items()})
    lineage = load_document(lineage_file) if lineage_file else None
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
            follow_symlinks=follow_symlinks,
            progress=progress,
            lineage=lineage,
            datasets=[parse_dataset(spec) for spec in dataset_specs],
            derived_from=derived_from,
            depends_on=depends_on,
            card=card,
            capture=not no_capture,
            entry_point=entry_point,
            container_image=container_image,
            aliases=aliases,
        )
    if as_json:
        emit_json(version)
        return
    click.echo(
        f"pushed {version.model}:{version.number} {version.digest} "
        f"({count(version.file_count, 'file')}, {human_size(version.total_size)}: "
        f"{progress.summary('push')})"
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
@click.option(
    "--allow-revoked", is_flag=True, help="Pull even a revoked version (refused otherwise)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@json_option
@click.pass_context
@handle_errors
def pull(
    ctx: click.Context,
    ref: str,
    output: Path | None,
    no_cache: bool,
    allow_revoked: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Download the version REF names (name, name:7, name@alias, name@sha256:…) into a
    directory. A deprecated version is pulled with a warning on stderr; a revoked one
    is refused unless --allow-revoked."""
    import warnings

    from modeldepot.cli.progress import RichProgress
    from modeldepot.client.lifecycle import VersionStatusWarning
    from modeldepot.refs import parse_ref

    parsed = parse_ref(ref)
    target = output or Path(parsed.name.rsplit("/", 1)[-1])
    with (
        RichProgress(enabled=None if not quiet else False) as progress,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", VersionStatusWarning)
        version = client(ctx).pull(
            parsed,
            target,
            use_cache=not no_cache,
            progress=progress,
            allow_revoked=allow_revoked,
        )
    for warning in caught:
        if issubclass(warning.category, VersionStatusWarning):
            click.echo(f"modeldepot: warning: {warning.message}", err=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    if as_json:
        emit_json(version)
        return
    click.echo(
        f"pulled {version.model}:{version.number} {version.digest} into {target} "
        f"({count(version.file_count, 'file')}, {human_size(version.total_size)}: "
        f"{progress.summary('download')})"
    )
