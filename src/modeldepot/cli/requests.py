"""``modeldepot promote|rollback``, ``modeldepot requests …``, ``modeldepot check …`` and
``modeldepot metrics add``: governance from the command line."""

from __future__ import annotations

from typing import Any

import click

from modeldepot.cli.common import (
    client,
    emit_fields,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    when,
)

STATE_MARK = {"pass": "ok", "waived": "waived", "pending": "waiting", "fail": "FAILED"}


@click.command()
@click.argument("ref", metavar="NAME:VERSION")
@click.option("--to", "alias", required=True, help="The alias to move (e.g. production).")
@click.option("--reason", default="", help="Why: shown to reviewers and kept in the log.")
@json_option
@click.pass_context
@handle_errors
def promote(ctx: click.Context, ref: str, alias: str, reason: str, as_json: bool) -> None:
    """Open a promotion request to point ALIAS at the version REF names."""
    request = client(ctx).promote(ref, alias, reason=reason)
    emit_json(request) if as_json else _summary(request)


@click.command()
@click.argument("target", metavar="NAME@ALIAS")
@click.option("--reason", default="", help="Why: shown to reviewers and kept in the log.")
@json_option
@click.pass_context
@handle_errors
def rollback(ctx: click.Context, target: str, reason: str, as_json: bool) -> None:
    """Open a request to move NAME@ALIAS back to the version it held before."""
    name, sep, alias = target.rpartition("@")
    if not sep or not name or not alias:
        raise click.BadParameter(f"expected NAME@ALIAS, got {target!r}", param_hint="TARGET")
    request = client(ctx).rollback(name, alias, reason=reason)
    emit_json(request) if as_json else _summary(request)


@click.group()
def requests() -> None:
    """Promotion requests: list, show, approve, reject, comment, cancel, waive, apply."""


@requests.command("list")
@click.option(
    "--state",
    default="open",
    show_default=True,
    help="open (open or approved), closed, all, or one state (applied, rejected, …).",
)
@click.option("--model", help="Only requests for this model.")
@click.option("--alias", help="Only requests for this alias.")
@click.option("--mine", is_flag=True, help="Only the requests I opened.")
@click.option("--inbox", is_flag=True, help="Only open requests waiting for my approval.")
@click.option("--limit", type=click.IntRange(1), help="At most this many.")
@json_option
@click.pass_context
@handle_errors
def list_requests(
    ctx: click.Context,
    state: str,
    model: str | None,
    alias: str | None,
    mine: bool,
    inbox: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """List promotion requests, newest first."""
    c = client(ctx)
    items = c.requests(
        state=None if state == "all" else state,
        model=model,
        alias=alias,
        requested_by=c.whoami().name if mine else None,
        waiting_for_me=inbox,
        limit=limit,
    )
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["ID", "TARGET", "VERSION", "KIND", "STATE", "BY", "OPENED", "MISSING"],
        [
            (
                r.id,
                f"{r.model}@{r.alias}",
                f"{r.base_version or '-'} -> {r.version}",
                r.kind,
                r.state,
                r.requested_by,
                when(r.created_at),
                len(r.missing),
            )
            for r in items
        ],
    )


@requests.command("show")
@click.argument("request_id", type=click.IntRange(1), metavar="ID")
@json_option
@click.pass_context
@handle_errors
def show_request(ctx: click.Context, request_id: int, as_json: bool) -> None:
    """The request at a glance: what changes, every requirement, reviews, what is missing."""
    detail = client(ctx).request(request_id)
    if as_json:
        emit_json(detail)
        return
    emit_fields(
        [
            ("request", f"#{detail.id} ({detail.kind})"),
            ("target", f"{detail.model}@{detail.alias}"),
            ("version", f"{detail.base_version or 'unset'} -> {detail.version}"),
            ("state", detail.state + (f": {detail.close_reason}" if detail.close_reason else "")),
            ("requested", f"by {detail.requested_by} at {when(detail.created_at)}"),
            ("reason", detail.reason),
            ("policy", detail.policy or "none (no requirement beyond the defaults)"),
            ("revision", detail.revision),
        ]
    )
    if detail.diff:
        _diff(detail.diff)
    click.echo()
    emit_table(
        ["REQUIREMENT", "STATE", "DETAIL"],
        [(r.key, STATE_MARK[r.state], r.message) for r in detail.requirements],
        title="Requirements",
    )
    if detail.reviews:
        click.echo()
        emit_table(
            ["REVIEWER", "VERDICT", "GROUPS", "REVISION", "COUNTS", "WHEN", "COMMENT"],
            [
                (
                    v.principal,
                    v.verdict,
                    ",".join(v.groups),
                    v.revision,
                    "yes" if v.counts else "no",
                    when(v.at),
                    v.comment,
                )
                for v in detail.reviews
            ],
            title="Reviews",
        )
    if detail.waivers:
        click.echo()
        emit_table(
            ["REQUIREMENT", "BY", "UNTIL", "REASON"],
            [(w.requirement, w.created_by, when(w.expires_at), w.reason) for w in detail.waivers],
            title="Waivers",
        )
    for comment in detail.comments:
        click.echo(f"\n{comment.principal} at {when(comment.at)}:\n  {comment.body}")
    if detail.state in ("open", "approved"):
        click.echo()
        if detail.missing:
            click.echo("Missing:")
            for line in detail.missing:
                click.echo(f"  - {line}")
        else:
            click.echo(f"Ready: `modeldepot requests apply {detail.id}`")


def _diff(diff: dict[str, Any]) -> None:
    rows = []
    for section in ("metrics", "params", "tags", "code", "format", "packages"):
        for change in diff.get(section, []):
            rows.append((section, change["key"], change.get("a"), change.get("b")))
    for change in diff.get("datasets", []):
        rows.append(("datasets", change["change"], change["uri"], change.get("role")))
    for change in diff.get("files", []):
        rows.append(("files", change.get("change"), change.get("path"), change.get("size_b")))
    click.echo()
    if not rows:
        click.echo(f"No change from {diff['a']} to {diff['b']} in metadata.")
        return
    emit_table(["WHAT", "KEY", "FROM", "TO"], rows, title=f"Changes {diff['a']} -> {diff['b']}")


def _summary(request: Any) -> None:
    click.echo(
        f"request #{request.id}: {request.model}@{request.alias} "
        f"{request.base_version or 'unset'} -> {request.version} ({request.state})"
    )
    for line in request.missing:
        click.echo(f"  missing: {line}")


def _act(name: str, help_text: str, call: str, *, comment: bool = False) -> None:
    @requests.command(name, help=help_text)
    @click.argument("request_id", type=click.IntRange(1), metavar="ID")
    @click.option(
        "--comment" if comment else "--reason", "text", default="", help="Shown on the request."
    )
    @json_option
    @click.pass_context
    @handle_errors
    def command(ctx: click.Context, request_id: int, text: str, as_json: bool) -> None:
        result = getattr(client(ctx), call)(request_id, text)
        emit_json(result) if as_json else _summary(result)


_act(
    "approve",
    "Approve request ID (as a member of a group its policy needs).",
    "approve",
    comment=True,
)
_act(
    "reject", "Reject request ID (as a member of a group its policy needs).", "reject", comment=True
)
_act("cancel", "Cancel request ID (its requester, or a maintainer of the model).", "cancel_request")


@requests.command("comment")
@click.argument("request_id", type=click.IntRange(1), metavar="ID")
@click.argument("text")
@click.pass_context
@handle_errors
def comment_request(ctx: click.Context, request_id: int, text: str) -> None:
    """Comment on request ID."""
    client(ctx).comment_request(request_id, text)
    click.echo(f"commented on request #{request_id}")


@requests.command("apply")
@click.argument("request_id", type=click.IntRange(1), metavar="ID")
@json_option
@click.pass_context
@handle_errors
def apply_request(ctx: click.Context, request_id: int, as_json: bool) -> None:
    """Move the alias as request ID says, once every requirement is met."""
    result = client(ctx).apply_request(request_id)
    emit_json(result) if as_json else _summary(result)


@requests.command("waive")
@click.argument("request_id", type=click.IntRange(1), metavar="ID")
@click.argument("requirement")
@click.option("--reason", required=True, help="Why the requirement may be skipped.")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=24.0)
@json_option
@click.pass_context
@handle_errors
def waive(
    ctx: click.Context, request_id: int, requirement: str, reason: str, hours: float, as_json: bool
) -> None:
    """Waive a failing REQUIREMENT (e.g. rule:auc) of request ID for --hours."""
    result = client(ctx).waive(request_id, requirement, reason=reason, hours=hours)
    emit_json(result) if as_json else _summary(result)


@click.group()
def check() -> None:
    """External checks on versions (like commit statuses): post and list."""


@check.command("post")
@click.argument("ref", metavar="NAME:VERSION")
@click.argument("name")
@click.argument("state", type=click.Choice(["pending", "pass", "fail"]))
@click.option("--url", default="", help="A link to the run.")
@click.option("--details", default="", help="What it found.")
@click.option("--digest", help="The content it ran on (default: the version's).")
@json_option
@click.pass_context
@handle_errors
def post_check(
    ctx: click.Context,
    ref: str,
    name: str,
    state: str,
    url: str,
    details: str,
    digest: str | None,
    as_json: bool,
) -> None:
    """Post check NAME with STATE on the version REF names."""
    result = client(ctx).post_check(ref, name, state, digest=digest, url=url, details=details)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result.model}:{result.version} {result.name}: {result.state}")


@check.command("list")
@click.argument("ref", metavar="NAME:VERSION")
@json_option
@click.pass_context
@handle_errors
def list_checks(ctx: click.Context, ref: str, as_json: bool) -> None:
    """The last result of each check posted on the version REF names."""
    items = client(ctx).checks(ref)
    if as_json:
        emit_json(items)
        return
    emit_table(
        ["CHECK", "STATE", "BY", "WHEN", "URL"],
        [(c.name, c.state, c.posted_by, when(c.at), c.url) for c in items],
    )


@click.group()
def metrics() -> None:
    """Metrics recorded on a version after its push (a later evaluation)."""


@metrics.command("add")
@click.argument("ref", metavar="NAME:VERSION")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--slice", "slice_", default="", help="The slice they were computed on (sex=f).")
@click.option("--dataset", help="URI of the version's dataset they were computed on.")
@json_option
@click.pass_context
@handle_errors
def add_metrics(
    ctx: click.Context,
    ref: str,
    pairs: tuple[str, ...],
    slice_: str,
    dataset: str | None,
    as_json: bool,
) -> None:
    """Add metrics KEY=VALUE to the version REF names; recorded ones are never replaced."""
    values: dict[str, float] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        try:
            values[key] = float(text)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=NUMBER, got {pair!r}", param_hint="PAIRS")
    c = client(ctx)
    if slice_ or dataset:
        slices = [
            {"name": k, "value": v, "slice": slice_, "dataset": dataset} for k, v in values.items()
        ]
        result = c.add_metrics(ref, slices=slices)
    else:
        result = c.add_metrics(ref, values)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result.model}:{result.number}: added {', '.join(values)}")
