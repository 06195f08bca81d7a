"""Shared CLI plumbing: the client, output as text or JSON, one-line errors.

Only ``click`` is imported at module level; the SDK, Rich and Pydantic load when a
command runs, so ``modeldepot --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from modeldepot.client.client import Client

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def client(ctx: click.Context) -> Client:
    from modeldepot.client.client import Client

    root = ctx.find_root()
    if "client" not in root.meta:
        root.meta["client"] = Client(root.params.get("url"))
        root.call_on_close(root.meta["client"].close)
    return root.meta["client"]  # type: ignore[no-any-return]


def fail(exc: Exception) -> NoReturn:
    """Print a domain error or an OSError as ``modeldepot: error: CODE: message`` and
    exit 1; an OSError gets its stable code from ``modeldepot.errors.local_error``."""
    from modeldepot.errors import ModeldepotError, local_error

    error = local_error(exc) if isinstance(exc, OSError) else exc
    if not isinstance(error, ModeldepotError):
        raise exc
    click.echo(f"modeldepot: error: {error.code}: {error.detail}", err=True)
    sys.exit(1)


def handle_errors(func: F) -> F:
    """Turn domain errors and OSErrors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from modeldepot.errors import ModeldepotError

        try:
            return func(*args, **kwargs)
        except (ModeldepotError, OSError) as exc:
            fail(exc)
        except KeyboardInterrupt:
            click.echo("modeldepot: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def emit_json(value: Any) -> None:
    """SDK models or plain JSON values (a list of either), indented."""

    def plain(item: Any) -> Any:
        # Duck-typed, so that printing plain JSON does not import pydantic.
        dump = getattr(item, "model_dump", None)
        return dump(mode="json", by_alias=True) if dump is not None else item

    data = [plain(v) for v in value] if isinstance(value, list) else plain(value)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """Aligned columns, two spaces apart, one row a line (never wrapped, so that
    ``grep`` and ``cut`` see whole rows); the header in bold on a terminal.

    Plain text rather than a Rich table: importing Rich costs a read command a third
    of its start-up."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    if title:
        click.echo(title)
    click.echo(click.style(line(columns), bold=True))
    for row in cells:
        click.echo(line(row))


def emit_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``key  value`` lines; a mapping as ``k=v`` pairs, nested ones by dotted path
    (``optimizer.lr=0.01``), as search names them."""
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in dotted(value)) or "-"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "-"
        click.echo(f"{key:<{width}}  {'-' if value in (None, '') else value}")


def dotted(mapping: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The leaves of a nested mapping with their dotted paths, in order."""
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def parse_pairs(items: Sequence[str], kind: str) -> dict[str, str]:
    """``key=value`` arguments as a dict; a usage error names the bad one."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=kind)
        out[key] = value
    return out


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``: a number with its noun, plural when it is not one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def when(value: Any) -> str:
    """An instant (a datetime, or ISO 8601 text as in the API's JSON) to the second."""
    if value is None:
        return "-"
    if isinstance(value, str):
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return str(value.strftime("%Y-%m-%d %H:%M:%S"))


def first_line(text: str | None) -> str:
    return text.splitlines()[0] if text else ""
