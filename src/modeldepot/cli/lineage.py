"""``modeldepot version lineage|env|diff|graph|relate|unrelate``: where a version came from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    handle_errors,
    human_size,
    json_option,
)

if TYPE_CHECKING:
    from modeldepot.schemas.lineage import LineageRead, TensorSpec

KINDS = click.Choice(["derived_from", "depends_on"])


def lineage_fields(lineage: LineageRead) -> list[tuple[str, Any]]:
    """The lines ``version show`` prints about lineage."""
    code = lineage.code
    env = lineage.environment
    fmt = lineage.format
    fields: list[tuple[str, Any]] = []
    if code is not None:
        state = " (dirty)" if code.dirty else ""
        where = "@".join(p for p in (code.repository, code.commit) if p) or "-"
        fields.append(("code", f"{where}{state}"))
        if code.branch:
            fields.append(("branch", code.branch))
        if code.entry_point:
            fields.append(("entry point", code.entry_point))
    if env is not None:
        python = " ".join(p for p in (env.implementation, env.python) if p)
        fields.append(
            ("environment", f"{python} on {env.platform or '?'}, {len(env.packages)} packages")
        )
        if env.accelerator:
            fields.append(("accelerator", env.accelerator))
        if env.container_image:
            fields.append(("image", env.container_image))
    if fmt is not None:
        framework = " ".join(p for p in (fmt.framework, fmt.framework_version) if p)
        fields.append(("format", f"{fmt.name} ({framework})" if framework else fmt.name))
    for use in lineage.datasets:
        flag = ", personal data" if use.personal_data else ""
        digest = f" {use.digest[:19]}" if use.digest else ""
        fields.append((f"data ({use.role})", f"{use.uri}{digest}{flag}"))
    for kind in ("derived_from", "depends_on", "used_by"):
        related = getattr(lineage, kind)
        if related:
            fields.append((kind.replace("_", " "), [f"{r.model}:{r.number}" for r in related]))
    for m in lineage.metric_slices:
        on = ", ".join(p for p in (m.slice, m.dataset) if p)
        fields.append((f"metric {m.name}", f"{m.value:g} on {on}" if on else f"{m.value:g}"))
    if lineage.signature is not None:
        for label, specs in (
            ("inputs", lineage.signature.inputs),
            ("outputs", lineage.signature.outputs),
        ):
            fields.append((label, ", ".join(tensor_text(t) for t in specs) or "-"))
    return fields


def tensor_text(spec: TensorSpec) -> str:
    """``x: float64[?, 3]``: the name when there is one, ``?`` for a dimension of any size."""
    shape = ""
    if spec.shape is not None:
        shape = "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"
    return f"{spec.name}: {spec.dtype}{shape}" if spec.name else f"{spec.dtype}{shape}"


@click.command("lineage")
@click.argument("ref")
@json_option
@click.pass_context
@handle_errors
def show_lineage(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show the whole lineage of the version REF names."""
    lineage = client(ctx).get_lineage(ref)
    if as_json:
        emit_json(lineage)
        return
    emit_fields([("version", f"{lineage.model}:{lineage.number}"), *lineage_fields(lineage)])


@click.command("env")
@click.argument("ref")
@json_option
@click.pass_context
@handle_errors
def show_env(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Print a requirements file that recreates the environment of REF (with --json:
    the captured environment itself)."""
    md = client(ctx)
    if as_json:
        emit_json(md.get_lineage(ref).environment)
        return
    click.echo(md.requirements(ref), nl=False)


@click.command("diff")
@click.argument("a")
@click.argument("b")
@json_option
@click.pass_context
@handle_errors
def diff_versions(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """Show what differs between versions A and B."""
    diff = client(ctx).diff(a, b)
    if as_json:
        emit_json(diff)
        return
    content = "same content" if diff.same_content else "different content"
    click.echo(f"{diff.a} → {diff.b}: {content}")
    rows: list[tuple[str, str, str, str]] = []
    for section in ("params", "metrics", "tags", "packages", "code", "format"):
        for change in getattr(diff, section):
            rows.append((section, change.key, _show(change.a), _show(change.b)))
    for d in diff.datasets:
        before, after = (d.uri, "") if d.change == "removed" else ("", d.uri)
        rows.append(("datasets", f"{d.role} {d.digest[:19]}".strip(), before, after))
    for f in diff.files:
        rows.append(
            (
                "files",
                f.path,
                f"{f.a_digest[:19]} {human_size(f.a_size)}"
                if f.a_digest and f.a_size is not None
                else "",
                f"{f.b_digest[:19]} {human_size(f.b_size)}"
                if f.b_digest and f.b_size is not None
                else "",
            )
        )
    if rows:
        emit_table(["WHAT", "KEY", diff.a, diff.b], rows)
    else:
        click.echo("no differences in metadata")


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


@click.command("graph")
@click.argument("ref")
@click.option("--depth", type=click.IntRange(1, 10), default=3, show_default=True)
@json_option
@click.pass_context
@handle_errors
def show_graph(ctx: click.Context, ref: str, depth: int, as_json: bool) -> None:
    """The lineage graph around REF: versions, datasets and code, as edges."""
    graph = client(ctx).lineage_graph(ref, depth=depth)
    if as_json:
        emit_json(graph)
        return
    labels = {n.id: n.label for n in graph.nodes}
    emit_table(
        ["FROM", "RELATION", "TO"],
        [(labels[e.source], e.kind, labels[e.target]) for e in graph.edges],
        title=f"lineage of {labels[graph.root]}",
    )


@click.command("relate")
@click.argument("ref")
@click.argument("kind", type=KINDS)
@click.argument("target")
@click.pass_context
@handle_errors
def relate(ctx: click.Context, ref: str, kind: str, target: str) -> None:
    """Record that REF was derived_from, or depends_on, the version TARGET."""
    lineage = client(ctx).add_relation(ref, kind, target)
    click.echo(f"{lineage.model}:{lineage.number} {kind} {target}")


@click.command("unrelate")
@click.argument("ref")
@click.argument("kind", type=KINDS)
@click.argument("target")
@click.pass_context
@handle_errors
def unrelate(ctx: click.Context, ref: str, kind: str, target: str) -> None:
    """Remove a relation recorded with ``relate``."""
    lineage = client(ctx).remove_relation(ref, kind, target)
    click.echo(f"{lineage.model}:{lineage.number} no longer {kind} {target}")


COMMANDS = (show_lineage, show_env, diff_versions, show_graph, relate, unrelate)
