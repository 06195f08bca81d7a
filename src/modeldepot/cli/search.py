"""``modeldepot search``: models or versions matching a query."""

from __future__ import annotations

import click

from modeldepot.cli.common import client, emit_json, emit_table, handle_errors, json_option, when


@click.command()
@click.argument("query", default="")
@click.option("--versions", "versions_", is_flag=True, help="Search versions, not models.")
@click.option("--sort", metavar="FIELD", help="Sort by FIELD; '-FIELD' for descending.")
@click.option("--deleted", is_flag=True, help="Include soft-deleted records.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option
@click.pass_context
@handle_errors
def search(
    ctx: click.Context,
    query: str,
    versions_: bool,
    sort: str | None,
    deleted: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Find models (or versions) matching QUERY, e.g.

    \b
      modeldepot search 'risk = high AND owner = "team-ads"'
      modeldepot search --versions 'metrics.auc > 0.9 AND tags.stage IN (a, b)' --sort -metrics.auc
      modeldepot search '"fraud detection"'
    """
    md = client(ctx)
    if versions_:
        found = md.search_versions(query, sort=sort, include_deleted=deleted, limit=limit)
        if as_json:
            emit_json(found)
            return
        emit_table(
            ["VERSION", "FORMAT", "METRICS", "ALIASES", "CREATED"],
            [
                (
                    f"{v.model}:{v.number}",
                    v.format,
                    ", ".join(f"{k}={val:g}" for k, val in list(v.metrics.items())[:4]),
                    ",".join(v.aliases),
                    when(v.created_at),
                )
                for v in found
            ],
        )
        return
    models = md.search_models(query, sort=sort, include_deleted=deleted, limit=limit)
    if as_json:
        emit_json(models)
        return
    emit_table(
        ["MODEL", "OWNER", "RISK", "LATEST", "DESCRIPTION"],
        [(m.name, m.owner, m.risk_level, m.latest_version, m.description[:60]) for m in models],
    )
