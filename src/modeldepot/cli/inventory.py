"""``modeldepot inventory``: every model, its owner, risk, aliases, data and use."""

from __future__ import annotations

from pathlib import Path

import click

from modeldepot.cli.common import client, count, emit_table, handle_errors, when


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--prefix", help="Only models under this namespace or name prefix.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
@click.pass_context
@handle_errors
def inventory(
    ctx: click.Context, fmt: str, as_json: bool, prefix: str | None, output: Path | None
) -> None:
    """List every live model for review: owner, risk, aliases, last change, personal
    data, dependencies and pulls."""
    md = client(ctx)
    fmt = "json" if as_json else fmt
    if fmt == "csv":
        text = md.inventory_csv(prefix=prefix)
    elif fmt == "json":
        text = md.inventory(prefix=prefix).model_dump_json(indent=2) + "\n"
    else:
        found = md.inventory(prefix=prefix)
        emit_table(
            ["MODEL", "OWNER", "RISK", "ALIASES", "LATEST", "CHANGED", "PERSONAL DATA", "PULLS"],
            [
                (
                    e.name,
                    e.owner,
                    e.risk_level,
                    ", ".join(
                        f"{a}={n}"
                        + (f" ({e.alias_status[a].upper()})" if a in e.alias_status else "")
                        for a, n in e.aliases.items()
                    ),
                    e.latest_version,
                    when(e.last_change),
                    f"yes ({count(len(e.personal_data), 'dataset')})" if e.personal_data else "no",
                    sum(p.count for p in e.pulls) or "",
                )
                for e in found.models
            ],
        )
        return
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
