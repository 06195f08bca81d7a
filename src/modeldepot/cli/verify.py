"""``modeldepot verify REF``: does the model still give the output it was published with?"""

from __future__ import annotations

import sys

import click

from modeldepot.cli.common import client, emit_json, handle_errors, json_option


@click.command()
@click.argument("ref")
@click.option("--rtol", type=float, default=1e-5, show_default=True, help="Relative tolerance.")
@click.option("--atol", type=float, default=1e-8, show_default=True, help="Absolute tolerance.")
@click.option("--allow-pickle", is_flag=True, help="Load pickle-based formats (runs their code).")
@click.option("--trust", multiple=True, metavar="TYPE", help="Trust this skops type (repeatable).")
@json_option
@click.pass_context
@handle_errors
def verify(
    ctx: click.Context,
    ref: str,
    rtol: float,
    atol: float,
    allow_pickle: bool,
    trust: tuple[str, ...],
    as_json: bool,
) -> None:
    """Pull and load REF, run its stored input example, compare with the stored output.

    Also lists packages that differ from the environment REF was captured in.
    Exits 1 when the output does not match.
    """
    report = client(ctx).verify(ref, rtol=rtol, atol=atol, allow_pickle=allow_pickle, trust=trust)
    if as_json:
        emit_json(
            {
                "ref": report.ref,
                "matches": report.matches,
                "detail": report.detail,
                "max_abs_diff": report.max_abs_diff,
                "environment_recorded": report.environment_recorded,
                "packages": [
                    {"name": p.name, "recorded": p.recorded, "current": p.current}
                    for p in report.packages
                ],
            }
        )
    else:
        verdict = "matches" if report.matches else "DOES NOT MATCH"
        click.echo(f"{report.ref}: output {verdict} the recorded output ({report.detail})")
        for p in report.packages:
            click.echo(f"  {p.name}: recorded {p.recorded or '-'}, here {p.current or '-'}")
        if not report.environment_recorded:
            click.echo("  environment: none was recorded with this version")
        elif not report.packages:
            click.echo("  environment: the same packages as recorded")
    if not report.matches:
        sys.exit(1)
