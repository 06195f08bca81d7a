"""Shared CLI plumbing: the client, output as text or JSON, one-line errors.

Only ``click`` is imported at module level; the SDK, Rich and Pydantic load when a
command runs, so ``modeldepot --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
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
    from pydantic import BaseModel

    def plain(item: Any) -> Any:
        return item.model_dump(mode="json", by_alias=True) if isinstance(item, BaseModel) else item

    data = [plain(v) for v in value] if isinstance(value, list) else plain(value)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def emit_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "-"
        click.echo(f"{key:<{width}}  {'-' if value in (None, '') else value}")


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


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"
