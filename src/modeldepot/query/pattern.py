"""LIKE and GLOB patterns, translated so that they match identically on both databases.

A user pattern is first read into a neutral form (literal characters and two
wildcards), then written out for the database:

* PostgreSQL: ``LIKE`` with ``ESCAPE '\\'``; every literal ``%``, ``_`` and ``\\`` escaped.
* SQLite: ``GLOB``, with every literal ``*``, ``?`` and ``[`` in brackets. SQLite's own
  ``LIKE`` ignores the case of ASCII letters while PostgreSQL's does not; ``GLOB`` is
  case-sensitive, so matching is case-sensitive on both, like ``=``.

In both user syntaxes a backslash makes the next character literal (``100\\%``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement


class Wildcard(Enum):
    ANY = "any"  # any run of characters, also none
    ONE = "one"  # exactly one character


Pattern = tuple[str | Wildcard, ...]
"""Literal characters (one per item) and wildcards."""

_LIKE_WILDCARDS = {"%": Wildcard.ANY, "_": Wildcard.ONE}
_GLOB_WILDCARDS = {"*": Wildcard.ANY, "?": Wildcard.ONE}


def read_like(text: str) -> Pattern:
    """A SQL LIKE pattern: ``%`` any run, ``_`` one character."""
    return _read(text, _LIKE_WILDCARDS)


def read_glob(text: str) -> Pattern:
    """A GLOB pattern: ``*`` any run, ``?`` one character (no character classes)."""
    return _read(text, _GLOB_WILDCARDS)


def _read(text: str, wildcards: dict[str, Wildcard]) -> Pattern:
    items: list[str | Wildcard] = []
    escaped = False
    for ch in text:
        if escaped:
            items.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            items.append(wildcards.get(ch, ch))
    if escaped:
        items.append("\\")  # a trailing backslash escapes nothing: it is itself
    return tuple(items)


def to_like(pattern: Pattern) -> str:
    """The pattern for ``LIKE … ESCAPE '\\'``."""
    out = []
    for item in pattern:
        if item is Wildcard.ANY:
            out.append("%")
        elif item is Wildcard.ONE:
            out.append("_")
        else:
            out.append("\\" + item if item in "%_\\" else item)
    return "".join(out)


def to_glob(pattern: Pattern) -> str:
    """The pattern for SQLite's ``GLOB``."""
    out = []
    for item in pattern:
        if item is Wildcard.ANY:
            out.append("*")
        elif item is Wildcard.ONE:
            out.append("?")
        else:
            out.append(f"[{item}]" if item in "*?[" else item)
    return "".join(out)


def matches(column: ColumnElement[Any], pattern: Pattern, *, sqlite: bool) -> ColumnElement[bool]:
    """``column`` matches ``pattern`` in full, case-sensitively, on either database."""
    if sqlite:
        return column.op("GLOB", is_comparison=True)(to_glob(pattern))
    return column.like(to_like(pattern), escape="\\")
